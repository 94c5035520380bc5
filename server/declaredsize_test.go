package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"testing"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	"github.com/dirsync/dirsync/engine"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// zstdDeclared compresses p as the client does: one frame that declares
// its content size.
func zstdDeclared(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := engine.NewZstdWriter()
	w.Reset(&buf)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstdStreamed compresses p as a stream, whose frame declares no content
// size if p is longer than a block.
func zstdStreamed(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withDeclaredSize returns frame, which declares a content size in a
// 4-byte field, declaring size instead.
func withDeclaredSize(t testing.TB, frame []byte, size uint32) []byte {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(frame); err != nil || !h.HasFCS || frame[4]>>6 != 2 {
		t.Fatalf("frame does not declare its size in 4 bytes: %v", err)
	}
	out := bytes.Clone(frame)
	binary.LittleEndian.PutUint32(out[h.HeaderSize-4:], size)
	return out
}

// TestMeteredBodyInflatesDeclaredZstd checks that a zstd message whose
// frame declares its size truly is decompressed once, by the meter, and
// handed on uncompressed, and that every other one is measured and
// handed on as it came.
func TestMeteredBodyInflatesDeclaredZstd(t *testing.T) {
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 100) // 4400 bytes
	declared := zstdDeclared(t, text)
	long := bytes.Repeat(text, 100) // beyond a block, so its header is written before its size is known
	streamed := zstdStreamed(t, long)
	if _, ok := zstdContentSize(streamed); ok {
		t.Fatal("the streamed frame declares its size")
	}
	big := zstdDeclared(t, make([]byte, 100000))
	cases := []struct {
		name     string
		payload  []byte
		wantFlag byte
		want     []byte // payload handed on
		wantHeld int64  // after the message
		wantCode connect.Code
	}{
		{"declared size is inflated once", declared, 0, text, int64(len(declared) + 3*len(text)), 0},
		{"no declared size is measured", streamed, 1, streamed, int64(2*len(streamed) + 2*len(long)), 0},
		{"declared size too small is measured", withDeclaredSize(t, big, 1000), 1, withDeclaredSize(t, big, 1000), -1, 0},
		{"declared size too large is measured", withDeclaredSize(t, big, 200000), 1, withDeclaredSize(t, big, 200000), -1, 0},
		{"declared size over the limit is refused", withDeclaredSize(t, big, 1<<20+1), 0, nil, 0, connect.CodeResourceExhausted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBody(envelopes(true, tc.payload), 8<<20, true, false, engine.CompressionZstd)
			out, err := io.ReadAll(b)
			if tc.wantCode != 0 {
				if connect.CodeOf(err) != tc.wantCode {
					t.Fatalf("read: %v, want %v", err, tc.wantCode)
				}
			} else {
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if len(out) < 5 || out[0] != tc.wantFlag || !bytes.Equal(out[5:], tc.want) ||
					binary.BigEndian.Uint32(out[1:5]) != uint32(len(out)-5) {
					t.Fatalf("handed on flag %x and %d bytes, want flag %x and %d bytes", out[0], len(out)-5, tc.wantFlag, len(tc.want))
				}
				if tc.wantHeld >= 0 && b.held != tc.wantHeld {
					t.Errorf("held %d, want %d", b.held, tc.wantHeld)
				}
			}
			b.releaseAll()
			if !b.budget.sem.TryAcquire(b.budget.size) {
				t.Error("the budget was not given back whole")
			}
		})
	}
}

// TestDeclaredSizeBombsCut sends Upload zstd bombs whose frames declare
// their size, truly (256 MiB) or falsely (1000 bytes): each is refused
// without being inflated, which the allocations show.
func TestDeclaredSizeBombsCut(t *testing.T) {
	env := newTenantEnv(t, nil)
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(nil, zstd.WithWindowSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	zw.ResetContentSize(&buf, bombBytes)
	zeros := make([]byte, 1<<20)
	for range bombBytes / len(zeros) {
		zw.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bombs := []struct {
		name    string
		payload []byte
		want    connect.Code
	}{
		{"true size", buf.Bytes(), connect.CodeResourceExhausted},
		{"false size", withDeclaredSize(t, buf.Bytes(), 1000), connect.CodeInvalidArgument},
	}
	for _, bomb := range bombs {
		for _, proto := range []string{"grpc", "connect-stream"} {
			t.Run(bomb.name+"/"+proto, func(t *testing.T) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				code := rawCall(t, env.hs, dirsyncv1connect.SyncServiceUploadProcedure, proto,
					engine.CompressionZstd, "Bearer "+tokenA, bomb.payload)
				runtime.ReadMemStats(&after)
				if code != bomb.want {
					t.Errorf("code %v, want %v", code, bomb.want)
				}
				// The test's own request and response take a few MiB.
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
					t.Errorf("the process allocated %d MiB for a %d-byte bomb", alloc>>20, len(bomb.payload))
				}
			})
		}
	}
}
