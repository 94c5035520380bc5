package engine

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
)

// BenchmarkStrongCandidates measures the block hashes considered for the
// strong per-block checksum over typical block sizes. The figures that
// chose xxh3 are recorded at the top of strong.go.
func BenchmarkStrongCandidates(b *testing.B) {
	candidates := []struct {
		name string
		sum  func([]byte) [StrongSize]byte
	}{
		{"sha256", func(p []byte) (s [StrongSize]byte) {
			full := sha256.Sum256(p)
			copy(s[:], full[:])
			return s
		}},
		{"blake3", func(p []byte) (s [StrongSize]byte) {
			full := blake3.Sum256(p)
			copy(s[:], full[:])
			return s
		}},
		{"xxh3-128", func(p []byte) (s [StrongSize]byte) {
			full := xxh3.Hash128(p).Bytes()
			copy(s[:], full[:])
			return s
		}},
		{"strongSum", strongSum},
	}
	for _, size := range []int{2 << 10, 8 << 10, 32 << 10, 128 << 10} {
		block := make([]byte, size)
		fillRandom(block, 1)
		for _, c := range candidates {
			b.Run(fmt.Sprintf("%s/%dKiB", c.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				var sink byte
				for b.Loop() {
					s := c.sum(block)
					sink ^= s[0]
				}
				_ = sink
			})
		}
	}
}
