package client

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

// exchange is what the compression test records of one RPC.
type exchange struct {
	procedure string
	accept    string // the request's Grpc-Accept-Encoding
	sent      string // the request's Grpc-Encoding
	answered  string // the response's Grpc-Encoding
}

func TestCompressionNegotiation(t *testing.T) {
	tests := []struct {
		codec string
		// wantAccept is what the client offers to decompress, in order;
		// wantUploadAccept is the same for Upload streams.
		wantAccept, wantUploadAccept string
		// wantSent is the codec of the uploads, "" for none.
		wantSent string
		// wantAnswers are the codecs answers may come in: the request's,
		// or for a request too small to compress, the preferred one.
		wantAnswers []string
	}{
		// Uncompressed uploads take uncompressed answers; the listing
		// still comes in zstd.
		{codec: engine.CompressionNone, wantAccept: "zstd", wantUploadAccept: "", wantSent: "",
			wantAnswers: []string{engine.CompressionZstd}},
		{codec: engine.CompressionGzip, wantAccept: "zstd,gzip", wantUploadAccept: "zstd,gzip", wantSent: engine.CompressionGzip,
			wantAnswers: []string{engine.CompressionGzip, engine.CompressionZstd}},
		{codec: engine.CompressionZstd, wantAccept: "zstd,gzip", wantUploadAccept: "zstd,gzip", wantSent: engine.CompressionZstd,
			wantAnswers: []string{engine.CompressionZstd}},
	}
	for _, tt := range tests {
		t.Run(tt.codec, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen []exchange
			)
			fs := newFakeServer()
			fs.middleware = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r)
					mu.Lock()
					defer mu.Unlock()
					seen = append(seen, exchange{
						procedure: r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:],
						accept:    r.Header.Get("Grpc-Accept-Encoding"),
						sent:      r.Header.Get("Grpc-Encoding"),
						answered:  w.Header().Get("Grpc-Encoding"),
					})
				})
			}
			dir := t.TempDir()
			// Text of a few KiB: every request and answer is over the
			// sizes below which neither side compresses.
			for i := range 40 {
				writeFile(t, dir, "d/f"+strings.Repeat("x", i), []byte(strings.Repeat("some text to compress ", 200)))
			}
			c := fs.serve(t, dir, func(o *Options) { o.Compression = tt.codec })
			syncOK(t, c)

			mu.Lock()
			defer mu.Unlock()
			procs := make(map[string]bool)
			compressed := 0
			for _, x := range seen {
				procs[x.procedure] = true
				wantAccept := tt.wantAccept
				if x.procedure == "Upload" {
					wantAccept = tt.wantUploadAccept
					if x.sent != tt.wantSent {
						t.Errorf("Upload: Grpc-Encoding %q, want %q", x.sent, tt.wantSent)
					}
					if tt.wantSent == "" && x.answered != "" && x.answered != "identity" {
						t.Errorf("Upload without compression answered with %q", x.answered)
					}
				}
				if x.accept != wantAccept {
					t.Errorf("%s: Grpc-Accept-Encoding %q, want %q", x.procedure, x.accept, wantAccept)
				}
				if x.answered == "" || x.answered == "identity" {
					continue
				}
				compressed++
				if !slices.Contains(tt.wantAnswers, x.answered) {
					t.Errorf("%s: answered with %q, want one of %q", x.procedure, x.answered, tt.wantAnswers)
				}
			}
			if len(tt.wantAnswers) > 0 && compressed == 0 {
				t.Errorf("no compressed answer in %d calls", len(seen))
			}
			for _, p := range []string{"GetManifest", "Upload"} {
				if !procs[p] {
					t.Errorf("no %s call seen; saw %v", p, procs)
				}
			}
		})
	}
}
