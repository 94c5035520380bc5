package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
)

// credentials are the flags that say who the client is and whom it
// trusts: a bearer token, and TLS files.
type credentials struct {
	tokenFlag string // --token: visible in ps, hence discouraged
	tokenFile string // --token-file or DIRSYNC_TOKEN_FILE
	caFile    string
	certFile  string
	keyFile   string
}

// register defines the flags on fset, with defaults from the environment.
// DIRSYNC_TOKEN is read later, by token, so that no flag default (which
// -help prints) ever holds a token.
func (c *credentials) register(fset *flag.FlagSet) {
	fset.StringVar(&c.tokenFlag, "token", "",
		"bearer `token` to send; discouraged, as other users can see it with ps: prefer -token-file or DIRSYNC_TOKEN")
	fset.StringVar(&c.tokenFile, "token-file", envString("DIRSYNC_TOKEN_FILE", ""),
		"read the bearer token from this `file` (env DIRSYNC_TOKEN_FILE)")
	fset.StringVar(&c.caFile, "ca", envString("DIRSYNC_CA", ""),
		"trust the server certificates this PEM CA `file` signed, instead of the system's roots (https only; env DIRSYNC_CA)")
	fset.StringVar(&c.certFile, "cert", envString("DIRSYNC_CERT", ""),
		"PEM client certificate `file` for mutual TLS; needs -key (env DIRSYNC_CERT)")
	fset.StringVar(&c.keyFile, "key", envString("DIRSYNC_KEY", ""),
		"PEM private key `file` of -cert (env DIRSYNC_KEY)")
}

// token returns the token to send, or "" for none: -token, else
// -token-file, else DIRSYNC_TOKEN. Giving both flags is an error. Errors
// never contain the token.
func (c *credentials) token() (string, error) {
	switch {
	case c.tokenFlag != "" && c.tokenFile != "":
		return "", errors.New("give -token or -token-file, not both")
	case c.tokenFlag != "":
		return c.tokenFlag, nil
	case c.tokenFile != "":
		data, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		tok := bytes.TrimSpace(data)
		if len(tok) == 0 {
			return "", fmt.Errorf("token file %s is empty", c.tokenFile)
		}
		return string(tok), nil
	}
	return os.Getenv("DIRSYNC_TOKEN"), nil
}

// tlsConfig returns the TLS configuration the flags ask for, or nil for
// the defaults (system roots, no client certificate).
func (c *credentials) tlsConfig() (*tls.Config, error) {
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if c.caFile == "" && c.certFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", c.caFile)
		}
	}
	if c.certFile != "" {
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
