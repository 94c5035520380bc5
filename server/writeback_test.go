package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWritebackWriterDirect(t *testing.T) {
	chunk := func() []byte { return pipeChunks.Get().(*[pipeChunk]byte)[:] } // aligned, as a pipeWriter's
	tests := []struct {
		name       string
		writes     func() [][]byte
		wantDirect bool // still direct after the writes, where supported
	}{
		{"aligned chunks stay direct", func() [][]byte { return [][]byte{chunk(), chunk()} }, true},
		{"a short tail turns it off", func() [][]byte { return [][]byte{chunk(), chunk()[:1000]} }, false},
		{"an unaligned first write turns it off", func() [][]byte { return [][]byte{chunk()[:5], chunk()} }, false},
		{"an unaligned buffer turns it off", func() [][]byte { return [][]byte{chunk()[1 : directAlign+1]} }, false},
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
			w.direct = setDirect(f, true)
			supported := w.direct
			var want []byte
			for i, b := range tt.writes() {
				for j := range b {
					b[j] = byte(i*7 + j)
				}
				want = append(want, b...)
				if n, err := w.Write(b); n != len(b) || err != nil {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
			}
			if supported && w.direct != tt.wantDirect {
				t.Errorf("direct = %v after the writes, want %v", w.direct, tt.wantDirect)
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
		})
	}
}
