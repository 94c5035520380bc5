package server

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated returns the bytes the file system allocated for the file at
// name.
func allocated(t *testing.T, name string) int64 {
	t.Helper()
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no st_blocks on this system")
	}
	return st.Blocks * 512
}

func TestWritebackWriterHoles(t *testing.T) {
	data := func(n int) []byte { return bytes.Repeat([]byte{0xa5}, n) }
	zeros := func(n int) []byte { return make([]byte, n) }
	const mib = 1 << 20
	tests := []struct {
		name   string
		writes [][]byte
		direct bool
		// maxAlloc bounds the bytes the file may have allocated.
		maxAlloc int64
	}{
		{"all zeros", [][]byte{zeros(mib), zeros(mib)}, false, 0},
		{"trailing hole", [][]byte{data(holeBlock), zeros(2 * mib)}, false, 2 * holeBlock},
		{"leading hole", [][]byte{zeros(2 * mib), data(10)}, false, 2 * holeBlock},
		{"hole in the middle of one write", [][]byte{append(append(data(100), zeros(4*mib)...), data(100)...)}, false, 4 * holeBlock},
		{"unaligned zeros stay data", [][]byte{data(100), zeros(holeBlock), data(100)}, false, 3 * holeBlock},
		{"a short zero run is written", [][]byte{zeros(holeBlock - 1), data(1)}, false, holeBlock},
		{"direct chunks with holes", [][]byte{data(mib), zeros(mib), data(mib), zeros(mib)}, true, 2*mib + 2*holeBlock},
		{"data only", [][]byte{data(mib)}, false, mib + 2*holeBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := &writebackWriter{f: f}
			if tt.direct {
				w.direct = setDirect(f, true)
			}
			var want []byte
			for i, b := range tt.writes {
				if tt.direct {
					// Aligned, as a pipeWriter's chunks are.
					c := pipeChunks.Get().(*[pipeChunk]byte)[:len(b)]
					copy(c, b)
					b = c
				}
				want = append(want, b...)
				if n, err := w.Write(b); n != len(b) || err != nil {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
			}
			if err := w.finish(); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("file holds %d bytes, want the %d written", len(got), len(want))
			}
			if a := allocated(t, name); a > tt.maxAlloc {
				t.Errorf("file of %d bytes has %d allocated, want at most %d", len(want), a, tt.maxAlloc)
			}
		})
	}
}
