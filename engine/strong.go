package engine

import "github.com/zeebo/xxh3"

// strongSum returns the truncated strong hash of one block.
func strongSum(block []byte) [StrongSize]byte {
	return xxh3.Hash128(block).Bytes()
}
