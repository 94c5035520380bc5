package engine

import "math/rand/v2"

// fillRandom fills p with deterministic pseudo-random bytes from seed.
func fillRandom(p []byte, seed uint64) {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	r.Read(p)
}
