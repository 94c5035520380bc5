package server

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

func TestPipeWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []int // sizes of successive writes
	}{
		{"nothing", nil},
		{"one byte", []int{1}},
		{"exactly one chunk", []int{pipeChunk}},
		{"one byte past a chunk", []int{pipeChunk + 1}},
		{"many chunks at once", []int{(pipeDepth + 3) * pipeChunk}},
		{"odd sizes", []int{7, pipeChunk - 3, 100 << 10, 3 * pipeChunk, 1, 0, 65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tt.writes))))
			var want, got bytes.Buffer
			p := newPipeWriter(&got)
			for i, n := range tt.writes {
				b := make([]byte, n)
				for j := range b {
					b[j] = byte(rng.Uint32())
				}
				want.Write(b)
				if m, err := p.Write(b); m != n || err != nil {
					t.Fatalf("write %d: %d, %v; want %d, nil", i, m, err, n)
				}
				if i%2 == 1 {
					if err := p.Flush(); err != nil {
						t.Fatalf("flush after write %d: %v", i, err)
					}
					if !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Fatalf("after flush %d: %d bytes written, want %d", i, got.Len(), want.Len())
					}
				}
			}
			if err := p.Flush(); err != nil {
				t.Fatalf("flush: %v", err)
			}
			p.close()
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%d bytes written, want %d equal to the input", got.Len(), want.Len())
			}
		})
	}
}

// failAfter fails every write once limit bytes have been written, and
// counts the calls made after that.
type failAfter struct {
	limit, n int
	late     atomic.Int32
}

var errDiskFull = errors.New("no space left on device")

func (w *failAfter) Write(b []byte) (int, error) {
	if w.n+len(b) > w.limit {
		w.late.Add(1)
		return 0, errDiskFull
	}
	w.n += len(b)
	return len(b), nil
}

func TestPipeWriterErrorIsSticky(t *testing.T) {
	w := &failAfter{limit: pipeChunk}
	p := newPipeWriter(w)
	chunk := make([]byte, pipeChunk)
	var writeErr error
	for range 2 * pipeDepth {
		if _, err := p.Write(chunk); err != nil {
			writeErr = err
			break
		}
	}
	if err := p.Flush(); !errors.Is(err, errDiskFull) {
		t.Errorf("Flush after a failed write = %v, want %v", err, errDiskFull)
	}
	if writeErr != nil && !errors.Is(writeErr, errDiskFull) {
		t.Errorf("Write failed with %v, want %v", writeErr, errDiskFull)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, errDiskFull) {
		t.Errorf("Write after the failure = %v, want %v", err, errDiskFull)
	}
	p.close()
	if n := w.late.Load(); n != 1 {
		t.Errorf("%d writes reached the writer after it failed, want only the failing one", n)
	}
}

func TestPipeWriterCloseDropsUnflushed(t *testing.T) {
	var got bytes.Buffer
	p := newPipeWriter(&got)
	if _, err := p.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("dropped")); err != nil {
		t.Fatal(err)
	}
	p.close()
	if got.String() != "kept" {
		t.Errorf("written %q, want %q", got.String(), "kept")
	}
}
