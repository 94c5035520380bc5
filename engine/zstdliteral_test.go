package engine

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZstdLiteral(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, MaxZstdLiteralSize)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), MaxZstdLiteralSize/44)
	bomb, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	tooBig := bomb.EncodeAll(make([]byte, MaxZstdLiteralSize+1), nil)
	tests := []struct {
		name    string
		frame   []byte
		size    int
		want    []byte // nil: must fail
		wantErr bool
	}{
		{"one byte", CompressLiteral(nil, []byte{42}), 1, []byte{42}, false},
		{"text", CompressLiteral(nil, text), len(text), text, false},
		{"random, the most", CompressLiteral(nil, random), len(random), random, false},
		{"declared size too small", CompressLiteral(nil, text), len(text) - 1, nil, true},
		{"declared size too large", CompressLiteral(nil, text[:100]), 101, nil, true},
		{"zero size", CompressLiteral(nil, nil), 0, nil, true},
		{"size over the limit", tooBig, MaxZstdLiteralSize + 1, nil, true},
		{"frame over the limit", tooBig, MaxZstdLiteralSize, nil, true},
		{"garbage", []byte("not a zstd frame at all"), 10, nil, true},
		{"truncated", CompressLiteral(nil, text)[:100], len(text), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecompressLiteral(make([]byte, 0, MaxZstdLiteralSize), tt.frame, tt.size)
			if tt.wantErr {
				if !errors.Is(err, ErrZstdLiteral) {
					t.Fatalf("err = %v, want ErrZstdLiteral", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("decompressed %d bytes, want the %d compressed", len(got), len(tt.want))
			}
		})
	}
	if r := float64(len(CompressLiteral(nil, text))) / float64(len(text)); r > 0.1 {
		t.Errorf("repeated text compressed to %.2f of its size", r)
	}
}

func FuzzDecompressLiteral(f *testing.F) {
	f.Add(CompressLiteral(nil, []byte("hello, hello, hello")), 19)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58, 0, 0, 0}, 5)
	f.Fuzz(func(t *testing.T, frame []byte, size int) {
		buf := make([]byte, 0, MaxZstdLiteralSize)
		out, err := DecompressLiteral(buf, frame, size)
		if err != nil {
			if !errors.Is(err, ErrZstdLiteral) {
				t.Fatalf("error %v does not wrap ErrZstdLiteral", err)
			}
			return
		}
		if len(out) != size || size < 1 || size > MaxZstdLiteralSize {
			t.Fatalf("accepted %d bytes for a declared %d", len(out), size)
		}
	})
}
