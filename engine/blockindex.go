package engine

import "math/bits"

// blockIndex finds the base blocks whose weak checksum equals that of a
// target window. It is built once per [Delta] call from the signature's
// full-size blocks.
//
// Two structures share one multiplicative (Fibonacci) hash of the weak
// checksum:
//
//   - filter is a blocked Bloom filter with about 32 bits per block: the
//     hash's top bits pick a 64-bit word and two of its middle bit fields
//     pick two bits in it. Fewer than 1% of the windows of a target that
//     differs from the base pass it, so the rolling loop touches only this
//     small, cache-resident array per byte.
//   - heads and next are bucket chains (about two buckets per block) that
//     list the candidate blocks once the filter passes.
type blockIndex struct {
	filter    []uint64 // Bloom filter words, indexed by hash >> wordShift
	wordShift uint32
	heads     []int32 // first block in each bucket, or -1
	headShift uint32
	next      []int32 // next block in the same bucket, or -1
}

// weakMix is the odd multiplier of the Fibonacci hash: 2^64 divided by
// the golden ratio.
const weakMix = 0x9E3779B97F4A7C15

// weakHash spreads a weak checksum over 64 bits.
func weakHash(weak uint32) uint64 {
	return uint64(weak) * weakMix
}

// filterMask returns the two filter bits of hash h within its word.
func filterMask(h uint64) uint64 {
	return 1<<(h>>20&63) | 1<<(h>>26&63)
}

// Table size limits, as powers of two.
const (
	minTableBits  = 7  // two filter words, so that shifts stay below 64
	maxFilterBits = 26 // 8 MiB of filter at most
	maxHeadBits   = 24 // 64 MiB of bucket heads at most
)

// maxChainWalk bounds how many same-bucket blocks a lookup inspects, so
// that a base built to share one weak checksum across many blocks cannot
// make each target byte cost more than a constant. Duplicate blocks are
// not chained at all (see newBlockIndex), so honest bases stay well below
// this bound.
const maxChainWalk = 64

// tableBits returns the bits of a power-of-two table with at least
// perBlock slots per block, within [minTableBits, limit].
func tableBits(blocks, perBlock, limit int) uint32 {
	b := bits.Len(uint(max(blocks*perBlock, 1) - 1))
	return uint32(min(max(b, minTableBits), limit))
}

// newBlockIndex indexes the first n blocks of sig, which must be valid.
// A block identical (same weak and strong sums) to one already listed in
// the first few entries of its bucket is left out: either copy serves, and
// runs still continue through it because [Delta] tries the block after a
// run before it consults the index. This keeps chains short for bases
// that repeat themselves, such as runs of zeros.
func newBlockIndex(sig *Signature, n int) *blockIndex {
	fb := tableBits(n, 32, maxFilterBits)
	hb := tableBits(n, 2, maxHeadBits)
	ix := &blockIndex{
		filter:    make([]uint64, 1<<(fb-6)),
		wordShift: 64 - (fb - 6),
		heads:     make([]int32, 1<<hb),
		headShift: 64 - hb,
		next:      make([]int32, n),
	}
	for i := range ix.heads {
		ix.heads[i] = -1
	}
	// Insert in file order, so that of identical blocks the first one is
	// kept: a match on it can then run on through the blocks after it.
	for b := range n {
		h := weakHash(sig.Weak[b])
		bucket := uint32(h >> ix.headShift)
		if ix.hasDuplicate(sig, bucket, b) {
			continue
		}
		ix.filter[h>>ix.wordShift] |= filterMask(h)
		ix.next[b] = ix.heads[bucket]
		ix.heads[bucket] = int32(b)
	}
	return ix
}

// hasDuplicate reports whether one of the first few blocks chained in
// bucket has the same checksums as block b.
func (ix *blockIndex) hasDuplicate(sig *Signature, bucket uint32, b int) bool {
	strong := sig.Strong[b*StrongSize : (b+1)*StrongSize]
	c := ix.heads[bucket]
	for range 8 {
		if c < 0 {
			return false
		}
		if sig.Weak[c] == sig.Weak[b] && string(sig.Strong[int(c)*StrongSize:(int(c)+1)*StrongSize]) == string(strong) {
			return true
		}
		c = ix.next[c]
	}
	return false
}

// lookup returns the first block chained in the bucket of weak, or -1.
func (ix *blockIndex) lookup(weak uint32) int32 {
	return ix.heads[weakHash(weak)>>(ix.headShift&63)]
}

// scan looks for a window whose weak checksum passes the filter, starting
// with the window of length bs at pos, whose sums are s1 and s2, and
// rolling one byte at a time up to the window at limit. It returns the
// position and sums it stopped at and whether the filter hit there; when
// it did not, pos is limit and that window has been tested.
//
// This is the hot loop of [Delta]: a few arithmetic operations and one
// filter probe per byte of a target that differs from its base.
func (ix *blockIndex) scan(buf []byte, pos, limit, bs int, s1, s2 uint32) (int, uint32, uint32, bool) {
	filter, shift, n := ix.filter, ix.wordShift&63, uint32(bs)
	// outs[i] leaves and ins[i] enters the window as it rolls from
	// pos+i to pos+i+1; equal lengths let the compiler drop bounds checks.
	outs := buf[pos:limit]
	ins := buf[pos+bs : limit+bs]
	ins = ins[:len(outs)]
	for i := 0; ; i++ {
		h := weakHash(packWeak(s1, s2))
		if m := filterMask(h); filter[h>>shift]&m == m {
			return pos + i, s1, s2, true
		}
		if i >= len(outs) {
			return pos + i, s1, s2, false
		}
		out, in := uint32(outs[i]), uint32(ins[i])
		s1 += in - out
		s2 += s1 - n*out
	}
}
