package client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestSendZstdLiterals(t *testing.T) {
	const frame = engine.MaxZstdLiteralSize
	tests := []struct {
		name      string
		size      int
		workers   int
		wantSizes []int
	}{
		{"empty", 0, 2, nil},
		{"one byte", 1, 2, []int{1}},
		{"one frame", frame, 2, []int{frame}},
		{"a frame and a byte", frame + 1, 2, []int{frame, 1}},
		{"many frames, one worker", 3*frame + 5, 1, []int{frame, frame, frame, 5}},
		{"many frames, more workers than frames", 2*frame + 7, 4, []int{frame, frame, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(strings.Repeat("some text that compresses well, ", tt.size/32+1))[:tt.size]
			copy(data, randomBytes(1, min(len(data), 100000))) // and some that does not
			var got []byte
			var sizes []int
			err := sendZstdLiterals(bytes.NewReader(data), tt.workers, func(fr []byte, n int) error {
				out, err := engine.DecompressLiteral(make([]byte, 0, n), fr, n)
				if err != nil {
					return err
				}
				got = append(got, out...)
				sizes = append(sizes, n)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("frames hold %d bytes, want the %d read, in order", len(got), len(data))
			}
			if len(sizes) != len(tt.wantSizes) {
				t.Fatalf("frame sizes %v, want %v", sizes, tt.wantSizes)
			}
			for i := range sizes {
				if sizes[i] != tt.wantSizes[i] {
					t.Errorf("frame sizes %v, want %v", sizes, tt.wantSizes)
				}
			}
		})
	}
}

func TestSendZstdLiteralsStops(t *testing.T) {
	errEmit := errors.New("stream broken")
	data := randomBytes(2, 5*engine.MaxZstdLiteralSize)
	calls := 0
	err := sendZstdLiterals(bytes.NewReader(data), 2, func([]byte, int) error {
		calls++
		return errEmit
	})
	if !errors.Is(err, errEmit) || calls != 1 {
		t.Errorf("err = %v after %d emits, want %v after 1", err, calls, errEmit)
	}
	errRead := errors.New("disk gone")
	err = sendZstdLiterals(&failingReader{data: data[:3*engine.MaxZstdLiteralSize], err: errRead}, 2, func([]byte, int) error { return nil })
	if !errors.Is(err, errRead) {
		t.Errorf("err = %v, want the read error %v", err, errRead)
	}
}

// failingReader reads data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestLargeFilesCompressThemselves(t *testing.T) {
	dir := t.TempDir()
	text := []byte(strings.Repeat("a line of text for the large file\n", (selfCompressMin+3<<20)/34))
	writeFile(t, dir, "big.txt", text)
	writeFile(t, dir, "small.txt", text[:5000])
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Compression = engine.CompressionZstd })
	if sum := syncOK(t, c); sum.Sent != 2 {
		t.Errorf("sent %d files, want 2", sum.Sent)
	}
	f.checkMirror(t, dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := (len(text) + engine.MaxZstdLiteralSize - 1) / engine.MaxZstdLiteralSize; f.zstdFrames != want {
		t.Errorf("%d compressed literals, want %d for the large file and none for the small one", f.zstdFrames, want)
	}
}
