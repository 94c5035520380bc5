package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// envelopes frames each payload as one enveloped message, compressed
// (flag 1) when compressed is set.
func envelopes(compressed bool, payloads ...[]byte) []byte {
	var out []byte
	for _, p := range payloads {
		prefix := [5]byte{}
		if compressed {
			prefix[0] = 1
		}
		binary.BigEndian.PutUint32(prefix[1:], uint32(len(p)))
		out = append(append(out, prefix[:]...), p...)
	}
	return out
}

// gzipped compresses p with gzip.
func gzipped(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := engine.NewGzipWriter()
	w.Reset(&buf)
	w.Write(p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newTestBody returns a meteredBody over body with a budget of size bytes
// that waits 10 ms at most.
func newTestBody(body []byte, size int64, enveloped, streaming bool, encoding string) *meteredBody {
	budget := newMemBudget(size)
	budget.wait = 10 * time.Millisecond
	return &meteredBody{
		body: io.NopCloser(bytes.NewReader(body)), ctx: context.Background(), budget: budget,
		sizer: newSizer(), limit: 1 << 20, encoding: encoding, enveloped: enveloped,
		streaming: streaming, length: -1,
	}
}

// readMessage reads one whole enveloped message (prefix and payload).
func readMessage(t *testing.T, b *meteredBody) []byte {
	t.Helper()
	prefix := make([]byte, 5)
	if _, err := io.ReadFull(b, prefix); err != nil {
		t.Fatalf("read prefix: %v", err)
	}
	payload := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	if _, err := io.ReadFull(b, payload); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return payload
}

func TestMeteredBodyReservations(t *testing.T) {
	small, large := bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 300)
	zipped := gzipped(t, bytes.Repeat([]byte{0}, 10000))
	cases := []struct {
		name      string
		body      []byte
		streaming bool
		kept      int64
		encoding  string
		want      []int64 // bytes held after each message
		wantEnd   int64   // bytes held once the body is drained
	}{
		{"stream releases each message when the next is asked for", envelopes(false, small, large), true, 0, "", []int64{200, 600}, 0},
		{"stream keeps what its handler keeps", envelopes(false, small, large), true, 150, "", []int64{200, 700}, 150},
		{"unary keeps every message until answered", envelopes(false, small, large), false, 0, "", []int64{200, 800}, 800},
		{"compressed costs wire twice and inflated twice", envelopes(true, zipped), true, 0, engine.CompressionGzip,
			[]int64{int64(2*len(zipped) + 20000)}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBody(tc.body, 1<<20, true, tc.streaming, tc.encoding)
			b.kept = tc.kept
			for i, want := range tc.want {
				readMessage(t, b)
				if b.held != want {
					t.Errorf("after message %d: held %d, want %d", i, b.held, want)
				}
			}
			if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("at the end: %d, %v; want 0, EOF", n, err)
			}
			if b.held != tc.wantEnd {
				t.Errorf("at the end: held %d, want %d", b.held, tc.wantEnd)
			}
			b.releaseAll()
			if !b.budget.sem.TryAcquire(b.budget.size) {
				t.Error("the budget was not given back whole")
			}
		})
	}
}

func TestMeteredBodyRefusals(t *testing.T) {
	cases := []struct {
		name     string
		body     []byte
		budget   int64
		held     int64 // taken from the budget by others
		encoding string
		want     connect.Code
	}{
		{"message over the limit", envelopes(false, make([]byte, 1<<20+1)), 8 << 20, 0, "", connect.CodeResourceExhausted},
		{"bomb over the limit", envelopes(true, gzipped(t, make([]byte, 2<<20))), 8 << 20, 0, engine.CompressionGzip, connect.CodeResourceExhausted},
		{"budget taken by others", envelopes(false, make([]byte, 100)), 1000, 900, "", connect.CodeResourceExhausted},
		{"unary body over the limit", gzipped(t, make([]byte, 2<<20)), 8 << 20, 0, engine.CompressionGzip, connect.CodeResourceExhausted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBody(tc.body, tc.budget, tc.name != "unary body over the limit", false, tc.encoding)
			if _, err := b.budget.acquire(context.Background(), tc.held); err != nil {
				t.Fatal(err)
			}
			_, err := io.ReadAll(b)
			if connect.CodeOf(err) != tc.want {
				t.Errorf("read: %v, want %v", err, tc.want)
			}
			b.releaseAll()
			b.budget.release(tc.held)
			if !b.budget.sem.TryAcquire(b.budget.size) {
				t.Error("the budget was not given back whole")
			}
		})
	}
}

func TestMemBudgetWaitsForRoom(t *testing.T) {
	b := newMemBudget(100)
	b.wait = 50 * time.Millisecond
	got, err := b.acquire(context.Background(), 80)
	if err != nil || got != 80 {
		t.Fatalf("acquire 80: %d, %v", got, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.release(80)
	}()
	if got, err := b.acquire(context.Background(), 50); err != nil || got != 50 {
		t.Fatalf("acquire 50 after a release: %d, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.acquire(ctx, 80); connect.CodeOf(err) != connect.CodeCanceled {
		t.Errorf("acquire with a canceled context: %v, want Canceled", err)
	}
	if got, err := b.acquire(context.Background(), 1000); err == nil {
		t.Errorf("acquire 1000 of 100 with 50 held: got %d, want an error after the wait", got)
	}
}

// FuzzMeteredBody checks that the meter hands on every body as messages
// that decode to the same bytes, or fails it, never holds more than its
// budget, and gives all of it back. Only a zstd message whose frame
// declares its size changes on the way: it is handed on decompressed.
func FuzzMeteredBody(f *testing.F) {
	f.Add(envelopes(false, []byte("hello"), []byte("world")), true, true, uint8(0))
	f.Add(envelopes(true, gzipped(f, []byte("hello"))), true, false, uint8(1))
	f.Add(gzipped(f, []byte("hello")), false, false, uint8(1))
	f.Add([]byte{1, 0, 0, 0}, true, true, uint8(1))
	f.Add(envelopes(true, zstdDeclared(f, []byte("hello")), zstdDeclared(f, nil)), true, true, uint8(2))
	f.Add(envelopes(true, zstdDeclared(f, bytes.Repeat([]byte("hello"), 1000))), true, false, uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, enveloped, streaming bool, codec uint8) {
		encoding := ""
		switch codec % 3 {
		case 1:
			encoding = engine.CompressionGzip
		case 2:
			encoding = engine.CompressionZstd
		}
		b := newTestBody(body, 64<<10, enveloped, streaming, encoding)
		b.limit = 16 << 10
		out, err := io.ReadAll(b)
		if b.held > b.budget.size {
			t.Fatalf("held %d of a budget of %d", b.held, b.budget.size)
		}
		if err == nil && !bytes.Equal(out, body) {
			if !enveloped || encoding != engine.CompressionZstd {
				t.Fatalf("body changed: %x -> %x", body, out)
			}
			sameMessages(t, body, out)
		}
		b.releaseAll()
		if !b.budget.sem.TryAcquire(b.budget.size) {
			t.Fatal("the budget was not given back whole")
		}
	})
}

// sameMessages fails t unless the enveloped zstd messages of out are
// those of in, each as it came or decompressed.
func sameMessages(t *testing.T, in, out []byte) {
	t.Helper()
	for len(in) > 0 || len(out) > 0 {
		if len(in) < 5 || len(out) < 5 {
			t.Fatalf("messages end apart: %x -> %x", in, out)
		}
		a, b := in[5:5+binary.BigEndian.Uint32(in[1:5])], out[5:5+binary.BigEndian.Uint32(out[1:5])]
		switch {
		case in[0] == out[0] && bytes.Equal(a, b):
		case in[0]&1 == 1 && out[0] == in[0]&^1:
			r := engine.NewZstdReader()
			if err := r.Reset(bytes.NewReader(a)); err != nil {
				t.Fatalf("a message handed on decompressed does not decompress: %v", err)
			}
			got, err := io.ReadAll(io.LimitReader(r, 1<<20))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("message %x decompresses to %x, %v; handed on %x", a, got, err, b)
			}
		default:
			t.Fatalf("message changed: %x %x -> %x %x", in[0], a, out[0], b)
		}
		in, out = in[5+len(a):], out[5+len(b):]
	}
}

// TestBudgetRefusesWhenFull fills a server's memory budget: a request
// then waits, gets ResourceExhausted naming the flag, and is served
// again once the budget has room.
func TestBudgetRefusesWhenFull(t *testing.T) {
	forEachProtocolOpts(t, Options{MaxMemoryBytes: 1 << 20}, func(t *testing.T, env *testEnv) {
		env.srv.budget.wait = 50 * time.Millisecond
		got, err := env.srv.budget.acquire(context.Background(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		// An empty message costs nothing; this one has a few bytes.
		req := &dirsyncv1.GetPartialRequest{Path: "some/file"}
		_, err = env.client.GetPartial(testCtx(t), connect.NewRequest(req))
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-memory-bytes") {
			t.Errorf("GetPartial with the budget full: %v, want ResourceExhausted naming --max-memory-bytes", err)
		}
		env.srv.budget.release(got)
		if _, err := env.client.GetPartial(testCtx(t), connect.NewRequest(req)); connect.CodeOf(err) == connect.CodeResourceExhausted {
			t.Errorf("GetPartial with room: %v", err)
		}
	})
}
