package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/engine"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// TestCompressionAdvertised checks which codecs the client sends with and
// accepts answers in, as the server sees them in the request headers.
func TestCompressionAdvertised(t *testing.T) {
	tests := []struct {
		compression  string
		wantEncoding string // grpc-encoding of requests, "" for none
		wantAccepted []string
	}{
		{engine.CompressionNone, "", nil},
		{engine.CompressionGzip, "gzip", []string{"gzip", "zstd"}},
		{engine.CompressionZstd, "zstd", []string{"gzip", "zstd"}},
	}
	for _, tt := range tests {
		t.Run(tt.compression, func(t *testing.T) {
			var mu sync.Mutex
			var accepted, encodings []string
			mux := http.NewServeMux()
			path, h := dirsyncv1connect.NewSyncServiceHandler(newFakeServer(), compressionHandlerOptions()...)
			mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				accepted = append(accepted, r.Header.Get("Grpc-Accept-Encoding"))
				encodings = append(encodings, r.Header.Get("Grpc-Encoding"))
				mu.Unlock()
				h.ServeHTTP(w, r)
			}))
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			defer srv.Close()
			dir := t.TempDir()
			writeFile(t, dir, "a.txt", []byte(strings.Repeat("compressible ", 1000)))
			c, err := New(Options{Dir: dir, ServerURL: srv.URL, Logger: testLogger(t), Compression: tt.compression})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			syncOK(t, c)
			mu.Lock()
			defer mu.Unlock()
			if len(accepted) == 0 {
				t.Fatal("no requests seen")
			}
			for i, acc := range accepted {
				for _, codec := range []string{"gzip", "zstd"} {
					want := false
					for _, w := range tt.wantAccepted {
						want = want || w == codec
					}
					if got := strings.Contains(acc, codec); got != want {
						t.Errorf("request %d: grpc-accept-encoding %q: accepts %s = %v, want %v", i, acc, codec, got, want)
					}
				}
			}
			sawEncoding := false
			for _, enc := range encodings {
				if enc != "" && enc != "identity" && enc != tt.wantEncoding {
					t.Errorf("a request was sent with grpc-encoding %q, want %q", enc, tt.wantEncoding)
				}
				sawEncoding = sawEncoding || enc == tt.wantEncoding
			}
			if tt.wantEncoding != "" && !sawEncoding {
				t.Errorf("no request declared grpc-encoding %q", tt.wantEncoding)
			}
		})
	}
}
