package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/dirsync/dirsync/engine"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// bombBytes is what each bomb inflates to: far beyond every read limit.
const bombBytes = 256 << 20

// bomb returns bombBytes of zeros compressed with encoding, built without
// ever holding them.
func bomb(t testing.TB, encoding string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case engine.CompressionGzip:
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case engine.CompressionZstd:
		zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	zeros := make([]byte, 1<<20)
	for range bombBytes / len(zeros) {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawCall posts payload, already compressed with encoding, as the one
// message of a request to path in the framing of proto ("grpc",
// "connect" unary or "connect-stream"), with authorization if not "", and
// returns the Connect code of the answer (0 for success).
func rawCall(t *testing.T, hs *httptest.Server, path, proto, encoding, authorization string, payload []byte) connect.Code {
	t.Helper()
	envelope := func() []byte {
		b := make([]byte, 5, 5+len(payload))
		b[0] = 1
		binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
		return append(b, payload...)
	}
	var req *http.Request
	switch proto {
	case "grpc":
		req, _ = http.NewRequest(http.MethodPost, hs.URL+path, bytes.NewReader(envelope()))
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Grpc-Encoding", encoding)
		req.Header.Set("Te", "trailers")
	case "connect-stream":
		req, _ = http.NewRequest(http.MethodPost, hs.URL+path, bytes.NewReader(envelope()))
		req.Header.Set("Content-Type", "application/connect+proto")
		req.Header.Set("Connect-Content-Encoding", encoding)
	default:
		req, _ = http.NewRequest(http.MethodPost, hs.URL+path, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Content-Encoding", encoding)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", proto, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch proto {
	case "grpc":
		s := resp.Trailer.Get("Grpc-Status")
		if s == "" {
			s = resp.Header.Get("Grpc-Status")
		}
		n, _ := strconv.Atoi(s)
		return connect.Code(n)
	case "connect-stream":
		// The end-of-stream message is JSON: {"error":{"code":"..."}}.
		for _, c := range []connect.Code{connect.CodeResourceExhausted, connect.CodeUnauthenticated, connect.CodeInvalidArgument} {
			if bytes.Contains(body, []byte(`"`+c.String()+`"`)) {
				return c
			}
		}
		return 0
	default:
		for _, c := range []connect.Code{connect.CodeResourceExhausted, connect.CodeUnauthenticated, connect.CodeInvalidArgument} {
			if bytes.Contains(body, []byte(`"`+c.String()+`"`)) {
				return c
			}
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d %s", proto, path, resp.StatusCode, body)
		}
		return 0
	}
}

// TestBombsCutAtLimit sends gzip and zstd bombs to every kind of handler
// in every framing: each must be refused with ResourceExhausted, and the
// server must not inflate them, which its allocations show.
func TestBombsCutAtLimit(t *testing.T) {
	env := newTenantEnv(t, nil)
	bombs := map[string][]byte{
		engine.CompressionGzip: bomb(t, engine.CompressionGzip),
		engine.CompressionZstd: bomb(t, engine.CompressionZstd),
	}
	cases := []struct {
		name, path, auth string
		protos           []string
	}{
		{"health", "/grpc.health.v1.Health/Check", "", []string{"grpc", "connect"}},
		{"reflection", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "", []string{"grpc", "connect-stream"}},
		{"reflection v1alpha", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "", []string{"grpc"}},
		{"status", dirsyncv1connect.SyncServiceStatusProcedure, "Bearer " + tokenA, []string{"grpc", "connect"}},
		{"manifest", dirsyncv1connect.SyncServiceGetManifestProcedure, "Bearer " + tokenA, []string{"grpc", "connect-stream"}},
		{"apply", dirsyncv1connect.SyncServiceApplyChangesProcedure, "Bearer " + tokenA, []string{"grpc", "connect"}},
		{"upload", dirsyncv1connect.SyncServiceUploadProcedure, "Bearer " + tokenA, []string{"grpc", "connect-stream"}},
	}
	for _, tc := range cases {
		for _, proto := range tc.protos {
			for encoding, payload := range bombs {
				t.Run(tc.name+"/"+proto+"/"+encoding, func(t *testing.T) {
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					code := rawCall(t, env.hs, tc.path, proto, encoding, tc.auth, payload)
					runtime.ReadMemStats(&after)
					if code != connect.CodeResourceExhausted {
						t.Errorf("code %v, want ResourceExhausted", code)
					}
					// The test's own request and response take a few MiB.
					if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
						t.Errorf("the process allocated %d MiB for a %d-byte bomb", alloc>>20, len(payload))
					}
				})
			}
		}
	}
}

// TestBombWithoutTokenRefusedFirst sends a bomb to the SyncService
// without credentials: it is refused as Unauthenticated, unread.
func TestBombWithoutTokenRefusedFirst(t *testing.T) {
	env := newTenantEnv(t, nil)
	payload := bomb(t, engine.CompressionGzip)
	for _, proto := range []string{"grpc", "connect"} {
		if code := rawCall(t, env.hs, dirsyncv1connect.SyncServiceStatusProcedure, proto, engine.CompressionGzip, "", payload); code != connect.CodeUnauthenticated {
			t.Errorf("%s: code %v, want Unauthenticated", proto, code)
		}
	}
}
