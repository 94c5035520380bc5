package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// loadTLS returns the TLS configuration that --tls-cert, --tls-key and
// --client-ca ask for, or nil to serve h2c.
//
// With --client-ca, a client certificate is verified against that CA. In
// single-root mode, where there are no tokens, a verified certificate is
// then required: it is the only credential. With tenants, it is optional,
// because a bearer token is another way in; the authenticator refuses a
// request that has neither.
func loadTLS(cfg config) (*tls.Config, error) {
	if cfg.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if cfg.clientCA == "" {
		return tc, nil
	}
	pool, err := loadCertPool(cfg.clientCA)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	tc.ClientCAs = pool
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	if cfg.tenants != nil {
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// loadCertPool reads the PEM certificates in path into a pool.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New(path + ": no PEM certificate found")
	}
	return pool, nil
}
