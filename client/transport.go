package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 keepalive: a connection silent for readIdleTimeout is pinged, and
// dropped if the ping is not answered within pingTimeout, so a vanished
// server is noticed even in the middle of a long stream.
const (
	readIdleTimeout = 30 * time.Second
	pingTimeout     = 15 * time.Second
)

// newHTTPClient returns an HTTP client that speaks cleartext HTTP/2 (h2c)
// and adds every byte read from or written to its TCP connections to wire.
func newHTTPClient(wire *atomic.Int64) *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		// With AllowHTTP, http:// URLs still go through DialTLSContext:
		// dial plain TCP instead.
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, n: wire}, nil
		},
		ReadIdleTimeout: readIdleTimeout,
		PingTimeout:     pingTimeout,
	}}
}

// newTLSClient returns an HTTP client that speaks HTTP/2 over TLS (h2,
// negotiated by ALPN) with config (nil: the system's roots), and adds
// every byte read from or written to the TCP connections under TLS to
// wire, so the count includes the TLS overhead, as a wire count should.
func newTLSClient(wire *atomic.Int64, config *tls.Config) *http.Client {
	return &http.Client{Transport: &http2.Transport{
		TLSClientConfig: config,
		// cfg is TLSClientConfig completed by the transport with the
		// server name and the h2 ALPN protocol.
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(&countingConn{Conn: conn, n: wire}, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
				tc.Close()
				return nil, fmt.Errorf("TLS handshake with %s: server offers %q, not HTTP/2 (h2)", addr, p)
			}
			return tc, nil
		},
		ReadIdleTimeout: readIdleTimeout,
		PingTimeout:     pingTimeout,
	}}
}

// countingConn counts the bytes that cross a connection in either
// direction. It is safe for concurrent use as far as its Conn is.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

// Read reads from the connection and counts the bytes read.
func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Write writes to the connection and counts the bytes written.
func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}
