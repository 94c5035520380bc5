package engine

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestBlockSizeFor(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{-1, 2048},
		{0, 2048},
		{1, 2048},
		{4 << 20, 2048},
		{16 << 20, 2048},
		{64 << 20, 4096},
		{100 << 20, 5120},
		{1 << 30, 16384},
		{1<<30 + 1, 16384},
		{10 << 30, 51808},
		{1 << 40, 524288},
		{4 << 40, MaxBlockSize},
		{math.MaxInt64, MaxBlockSize},
	}
	for _, tt := range tests {
		got := BlockSizeFor(tt.size)
		if got != tt.want {
			t.Errorf("BlockSizeFor(%d) = %d, want %d", tt.size, got, tt.want)
		}
		if got%8 != 0 || got < MinBlockSize || got > MaxBlockSize {
			t.Errorf("BlockSizeFor(%d) = %d, not a multiple of 8 in range", tt.size, got)
		}
	}
}

// signatureBytes returns the size of the checksums in a signature of a
// size-byte file with the adaptive block size.
func signatureBytes(size int64) int64 {
	bs := int64(BlockSizeFor(size))
	return (4 + StrongSize) * ((size + bs - 1) / bs)
}

func TestSignatureSizeBound(t *testing.T) {
	for _, size := range []int64{1 << 20, 64 << 20, 1<<30 - 1, 1 << 30} {
		if got := signatureBytes(size); got > 1<<20 {
			t.Errorf("signature of a %d-byte file takes %d bytes, want at most 1 MiB", size, got)
		}
	}
	t.Logf("signature of 1 GiB: block size %d, %d KiB", BlockSizeFor(1<<30), signatureBytes(1<<30)>>10)
}

func TestSign(t *testing.T) {
	data := randomBytes(10000, 20)
	tests := []struct {
		name      string
		sizeHint  int64
		blockSize int
		wantBS    int
		wantErr   error
	}{
		{"adaptive", 10000, 0, 2048, nil},
		{"adaptive with wrong hint", 1 << 30, 0, 16384, nil},
		{"adaptive with negative hint", -5, 0, 2048, nil},
		{"custom min", 10000, MinBlockSize, MinBlockSize, nil},
		{"custom odd", 10000, 1001, 1001, nil},
		{"custom max", 10000, MaxBlockSize, MaxBlockSize, nil},
		{"too small", 10000, MinBlockSize - 1, 0, ErrInvalidSignature},
		{"too large", 10000, MaxBlockSize + 1, 0, ErrInvalidSignature},
		{"negative", 10000, -1, 0, ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := Sign(bytes.NewReader(data), tt.sizeHint, tt.blockSize)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Sign error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sig.BlockSize != tt.wantBS || sig.FileSize != int64(len(data)) {
				t.Errorf("Sign = block size %d, file size %d; want %d, %d", sig.BlockSize, sig.FileSize, tt.wantBS, len(data))
			}
			if err := sig.Validate(); err != nil {
				t.Errorf("Validate(Sign(...)) = %v", err)
			}
			for i := range sig.NumBlocks() {
				block := data[i*sig.BlockSize : min((i+1)*sig.BlockSize, len(data))]
				strong := strongSum(block)
				if sig.Weak[i] != WeakSum(block) || !bytes.Equal(sig.Strong[i*StrongSize:(i+1)*StrongSize], strong[:]) {
					t.Fatalf("block %d checksums differ from a direct computation", i)
				}
			}
		})
	}
}

func TestSignatureValidate(t *testing.T) {
	valid := func() *Signature {
		return &Signature{BlockSize: 1024, FileSize: 2500, Weak: make([]uint32, 3), Strong: make([]byte, 3*StrongSize)}
	}
	tests := []struct {
		name   string
		mutate func(*Signature) *Signature
		ok     bool
	}{
		{"valid", func(s *Signature) *Signature { return s }, true},
		{"empty file", func(*Signature) *Signature { return &Signature{BlockSize: MinBlockSize} }, true},
		{"exact multiple", func(s *Signature) *Signature { s.FileSize = 3072; return s }, true},
		{"nil", func(*Signature) *Signature { return nil }, false},
		{"zero block size", func(s *Signature) *Signature { s.BlockSize = 0; return s }, false},
		{"negative block size", func(s *Signature) *Signature { s.BlockSize = -1024; return s }, false},
		{"block size below min", func(s *Signature) *Signature { s.BlockSize = MinBlockSize - 1; return s }, false},
		{"block size above max", func(s *Signature) *Signature { s.BlockSize = MaxBlockSize + 1; return s }, false},
		{"negative file size", func(s *Signature) *Signature { s.FileSize = -1; return s }, false},
		{"huge file size", func(s *Signature) *Signature { s.FileSize = math.MaxInt64; return s }, false},
		{"too few weak", func(s *Signature) *Signature { s.Weak = s.Weak[:2]; return s }, false},
		{"too many weak", func(s *Signature) *Signature { s.Weak = append(s.Weak, 0); return s }, false},
		{"short strong", func(s *Signature) *Signature { s.Strong = s.Strong[:3*StrongSize-1]; return s }, false},
		{"long strong", func(s *Signature) *Signature { s.Strong = append(s.Strong, 0); return s }, false},
		{"file one byte longer", func(s *Signature) *Signature { s.FileSize = 3073; return s }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.mutate(valid()).Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("Validate() = %v, want ErrInvalidSignature", err)
			}
		})
	}
}

func TestLayoutNumBlocks(t *testing.T) {
	tests := []struct {
		layout Layout
		want   int64
	}{
		{Layout{BlockSize: 1024, FileSize: 0}, 0},
		{Layout{BlockSize: 1024, FileSize: 1}, 1},
		{Layout{BlockSize: 1024, FileSize: 1024}, 1},
		{Layout{BlockSize: 1024, FileSize: 1025}, 2},
		{Layout{BlockSize: 0, FileSize: 1025}, 0},
		{Layout{BlockSize: 1024, FileSize: -1}, 0},
		{Layout{BlockSize: 1, FileSize: math.MaxInt64}, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := tt.layout.NumBlocks(); got != tt.want {
			t.Errorf("%+v.NumBlocks() = %d, want %d", tt.layout, got, tt.want)
		}
	}
}
