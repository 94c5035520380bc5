package e2e_test

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestResumeInterruptedUpload cuts the connection in the middle of a
// 32 MiB upload and checks that the client's retry sends only about what
// the server did not already have, and that the result is exact.
func TestResumeInterruptedUpload(t *testing.T) {
	const size = 32 << 20
	tests := []struct {
		name string
		// old is the server's copy before the upload, if any: with one the
		// upload is a delta against it as well as resumed.
		old []byte
	}{
		{"new file", nil},
		{"changed file", randomBytes(rand.New(rand.NewPCG(5, 6)), size)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			if tt.old != nil {
				writeFile(t, dst, "big.bin", tt.old, 0o644)
			}
			writeFile(t, src, "big.bin", randomBytes(rand.New(rand.NewPCG(7, 8)), size), 0o644)
			s := startServer(t, dst)
			before := status(t, s).GetBytesReceived()
			proxy := startCutProxy(t, s.addr, size/2)

			out := syncOnceURL(t, src, proxy.url(), s, "--compress", "none", "--log-level", "debug")
			requireMirror(t, src, dst)
			select {
			case <-proxy.cut:
			default:
				t.Fatalf("the proxy never cut the upload:\n%s", out)
			}
			up := proxy.upBytes()
			var retry int64
			for _, n := range up[1:] {
				retry += n
			}
			received := status(t, s).GetBytesReceived() - before
			t.Logf("file %d bytes; first connection cut after %d bytes; retry sent %d bytes (%.1f%% of the file) on %d connections; server received %d request bytes in all",
				size, up[0], retry, 100*float64(retry)/size, len(up)-1, received)
			if !strings.Contains(s.output.String(), "kept partial upload") {
				t.Errorf("the server did not keep the partial upload:\n%s", s.output.String())
			}
			if !strings.Contains(out, "resumed") {
				t.Errorf("the client's summary reports no resumed bytes:\n%s", out)
			}
			if retry >= size*6/10 {
				t.Errorf("retry sent %d bytes, want under 60%% of %d", retry, size)
			}
			if received >= size*12/10 {
				t.Errorf("server received %d request bytes in all, want under 120%% of %d", received, size)
			}
		})
	}
}
