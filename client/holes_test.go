package client

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestSendExtents(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		size    int64
		data    []int64 // offsets of 64 KiB of data each
		from    int64
		wantMax int64 // most literal bytes to send, on Linux
	}{
		{"empty", 0, nil, 0, 0},
		{"dense", 256 << 10, []int64{0, 64 << 10, 128 << 10, 192 << 10}, 0, 256 << 10},
		{"all hole", 8 * mib, nil, 0, 0},
		{"leading hole", 8 * mib, []int64{8*mib - 64<<10}, 0, 64 << 10},
		{"trailing hole", 8 * mib, []int64{0}, 0, 64 << 10},
		{"holes between", 8 * mib, []int64{0, 3 * mib, 6 * mib}, 0, 3 * 64 << 10},
		{"from the middle", 8 * mib, []int64{0, 3 * mib, 6 * mib}, 3*mib + 100, 2 * 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(tt.size); err != nil {
				t.Fatal(err)
			}
			for i, off := range tt.data {
				if _, err := f.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 64<<10), off); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			want = want[tt.from:]

			var got []byte
			var literal int64
			h := sha256.New()
			short, err := sendExtents(f, tt.from, tt.size, h, func(r io.Reader) error {
				b, err := io.ReadAll(r)
				got = append(got, b...)
				literal += int64(len(b))
				return err
			}, func(op engine.Op) error {
				if op.Kind != engine.OpZeros || op.Count < 1 {
					t.Errorf("emit(%v), want zeros of at least 1", op)
				}
				got = append(got, make([]byte, op.Count)...)
				return nil
			})
			if err != nil || short {
				t.Fatalf("sendExtents = %v, %v", short, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("extents rebuild %d bytes that differ from the file's %d", len(got), len(want))
			}
			if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Error("hash differs from the SHA-256 of the file's bytes")
			}
			if runtime.GOOS == "linux" && literal > tt.wantMax {
				t.Errorf("sent %d bytes as data, want at most %d", literal, tt.wantMax)
			}
		})
	}
}
