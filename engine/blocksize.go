package engine

import "math"

// Limits of the delta format. Values from a peer are checked against them
// before they are used.
const (
	// MinBlockSize is the smallest block size accepted, both as a custom
	// block size and in a signature from the network. Smaller blocks would
	// make signatures and op streams larger than the data they describe.
	MinBlockSize = 512

	// MaxBlockSize is the largest block size accepted. It bounds the
	// buffers that [Delta] and a [Patcher] allocate for a peer's signature
	// or layout.
	MaxBlockSize = 1 << 20

	// MaxLiteralSize is the most bytes a literal [Op] carries. [Delta]
	// never emits more and a [Patcher] rejects more, so one op fits in a
	// bounded network message.
	MaxLiteralSize = 256 << 10

	// MaxRunBytes bounds the bytes one copy [Op] stands for. [Delta] ends
	// a run of matching blocks once it covers this much and starts the
	// next, so that a receiver streaming the ops gets work to do while the
	// sender still reads an unchanged stretch, instead of one op at the
	// end of it. It costs one more op, a few bytes, per MaxRunBytes.
	MaxRunBytes = 8 << 20

	// StrongSize is the number of bytes of strong hash kept per block in a
	// [Signature]: a 64-bit xxh3 hash (see strong.go).
	StrongSize = 8
)

// adaptiveFloor is the smallest block size [BlockSizeFor] chooses. Below
// about 2 KiB the fixed cost per block (12 signature bytes, one hash-table
// entry, one strong hash call and one op per match) starts to dominate,
// while the saving on a small file is only a few KiB either way. rsync's
// floor is 700 bytes; ours is higher because the weak lookup is cheap and
// the strong hash is fast on larger blocks.
const adaptiveFloor = 2 << 10

// BlockSizeFor returns the block size [Sign] uses for a base of size bytes
// when no custom size is given.
//
// It picks about half the square root of size, rounded down to a multiple
// of 8, clamped to [2 KiB, MaxBlockSize]. For a single edit, sqrt(size)
// balances the signature, which grows with size/blockSize, against the
// literal bytes the edit costs, which grow with blockSize; rsync uses it.
// But files change in several places at once, and every changed place
// costs a whole block, so half of it sends fewer bytes overall. Measured on
// a 1 GiB file with 100 scattered 100-byte overwrites: sqrt (32 KiB blocks,
// 16-byte strong sums) sent 3.9 MB where rsync sent 3.6 MB; half of it,
// with the 8-byte sums, about 2.4 MB. The signature of a 1 GiB file then
// uses 16 KiB blocks and takes (4+StrongSize) * 65536 = 768 KiB; it stays
// under 1 MiB for every size up to 1 GiB. A negative size is treated as 0.
func BlockSizeFor(size int64) int {
	if size <= 4*adaptiveFloor*adaptiveFloor {
		return adaptiveFloor
	}
	if size >= 4*MaxBlockSize*MaxBlockSize {
		return MaxBlockSize
	}
	// size < 2^40 here, so float64 holds it exactly and the square root
	// is off by at most one; correct it to floor(sqrt(size)).
	r := int64(math.Sqrt(float64(size)))
	for r*r > size {
		r--
	}
	for (r+1)*(r+1) <= size {
		r++
	}
	return int(r/2) &^ 7
}
