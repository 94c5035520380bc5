package engine

import (
	"bytes"
	"testing"
)

// naiveWeak is the weak checksum straight from its definition.
func naiveWeak(p []byte) uint32 {
	var s1, s2 uint32
	for i, b := range p {
		s1 += uint32(b)
		s2 += uint32(len(p)-i) * uint32(b)
	}
	return s1&0xffff | s2<<16
}

func TestWeakSum(t *testing.T) {
	tests := []struct {
		name  string
		block []byte
		want  uint32
	}{
		{"empty", nil, 0},
		{"one byte", []byte("a"), 97 | 97<<16},
		{"abc", []byte("abc"), 294 | (97+195+294)<<16},
		{"all 0xff", bytes.Repeat([]byte{0xff}, 4096), naiveWeak(bytes.Repeat([]byte{0xff}, 4096))},
		{"odd length random", randomBytes(1021, 1), naiveWeak(randomBytes(1021, 1))},
		{"max block", randomBytes(MaxBlockSize, 2), naiveWeak(randomBytes(MaxBlockSize, 2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WeakSum(tt.block); got != tt.want {
				t.Errorf("WeakSum(%d bytes) = %#x, want %#x", len(tt.block), got, tt.want)
			}
		})
	}
}

func TestRollsumMatchesFromScratch(t *testing.T) {
	random := randomBytes(20000, 3)
	ones := bytes.Repeat([]byte{0xff}, 20000)
	tests := []struct {
		name   string
		data   []byte
		window int
	}{
		{"window 1", random, 1},
		{"window 7", random, 7},
		{"window 8", random, 8},
		{"window 9", random, 9},
		{"window MinBlockSize", random, MinBlockSize},
		{"window 2048", random, 2048},
		{"window 2048 of 0xff", ones, 2048},
		{"window 9999 of 0xff", ones, 9999},
		{"window whole input", random[:3000], 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Rollsum
			r.Init(tt.data[:tt.window])
			for off := 0; ; off++ {
				if got, want := r.Sum(), WeakSum(tt.data[off:off+tt.window]); got != want {
					t.Fatalf("rolled sum at offset %d = %#x, from scratch %#x", off, got, want)
				}
				if off+tt.window == len(tt.data) {
					break
				}
				r.Roll(tt.data[off], tt.data[off+tt.window])
			}
		})
	}
}

func TestRollsumZeroValue(t *testing.T) {
	var r Rollsum
	if got := r.Sum(); got != 0 {
		t.Errorf("zero Rollsum.Sum() = %#x, want 0", got)
	}
}
