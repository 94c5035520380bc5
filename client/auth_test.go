package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

const testToken = "client-test-token-0123456789"

// tokenChecker is a handler interceptor that refuses RPCs without
// "Bearer testToken" and counts the ones it lets through.
type tokenChecker struct{ passed atomic.Int64 }

func (c *tokenChecker) check(h http.Header) error {
	switch h.Get("Authorization") {
	case "":
		return connect.NewError(connect.CodeUnauthenticated, errors.New("no token"))
	case "Bearer " + testToken:
		c.passed.Add(1)
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, errors.New("token not accepted"))
}

func (c *tokenChecker) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := c.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (c *tokenChecker) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (c *tokenChecker) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := c.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// serveTLS starts f behind a token check on an HTTP/2 TLS test server.
func serveTLS(t *testing.T, f *fakeServer) (*httptest.Server, *tokenChecker) {
	t.Helper()
	checker := &tokenChecker{}
	mux := http.NewServeMux()
	mux.Handle(dirsyncv1connect.NewSyncServiceHandler(f,
		append(compressionHandlerOptions(), connect.WithInterceptors(checker))...))
	hs := httptest.NewUnstartedServer(mux)
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs, checker
}

func TestSyncOverTLSWithToken(t *testing.T) {
	hs, checker := serveTLS(t, newFakeServer())
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	trusted := &tls.Config{RootCAs: roots}
	cases := []struct {
		name    string
		token   string
		tls     *tls.Config
		wantErr string // "" for success; else the error wraps ErrAuth and contains this
	}{
		{"trusted CA and token", testToken, trusted, ""},
		{"no token", "", trusted, "unauthenticated"},
		{"wrong token", "not-the-token-at-all-0000", trusted, "permission_denied"},
		{"server not trusted", testToken, nil, "certificate signed by unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a.txt", []byte("over TLS"))
			c, err := New(Options{Dir: dir, ServerURL: hs.URL, Token: tc.token, TLSConfig: tc.tls, Logger: testLogger(t)})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			passed := checker.passed.Load()
			start := time.Now()
			sum, err := c.SyncOnce(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("SyncOnce: %v", err)
				}
				if sum.Sent != 1 || sum.WireBytes <= int64(len("over TLS")) {
					t.Errorf("sent %d files, %d wire bytes", sum.Sent, sum.WireBytes)
				}
				// At least GetManifest and Upload.
				if checker.passed.Load()-passed < 2 {
					t.Errorf("only %d RPCs carried the token", checker.passed.Load()-passed)
				}
				return
			}
			if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("SyncOnce: %v, want ErrAuth with %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("SyncOnce took %v: an auth failure must not be retried", d)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error reveals the token: %v", err)
			}
		})
	}
}

func TestWatchStopsOnAuthFailure(t *testing.T) {
	hs, _ := serveTLS(t, newFakeServer())
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	c, err := New(Options{Dir: t.TempDir(), ServerURL: hs.URL, Token: "wrong-token-0000000000000",
		TLSConfig: &tls.Config{RootCAs: roots}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Watch(ctx); !errors.Is(err, ErrAuth) {
		t.Errorf("Watch: %v, want ErrAuth", err)
	}
	if ctx.Err() != nil {
		t.Error("Watch retried until the deadline")
	}
}

func TestOptionsServerURLAndToken(t *testing.T) {
	cases := []struct {
		name, url, token string
		ok               bool
	}{
		{"http", "http://127.0.0.1:1", "", true},
		{"https", "https://example.com:8443", "", true},
		{"ftp", "ftp://example.com", "", false},
		{"token", "https://example.com", "abc", true},
		{"token with space", "https://example.com", "abc def", false},
		{"token with newline", "https://example.com", "abc\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Options{Dir: t.TempDir(), ServerURL: tc.url, Token: tc.token}.withDefaults()
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("withDefaults(%q, token %q) = %v, want ok %v", tc.url, tc.token, err, tc.ok)
			}
			if err != nil && tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error reveals the token: %v", err)
			}
		})
	}
}
