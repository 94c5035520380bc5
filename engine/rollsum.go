package engine

// Rollsum is the weak rolling checksum of a window of bytes. Moving the
// window one byte along costs O(1) with [Rollsum.Roll], which is what lets
// [Delta] look for a block match at every offset of the target.
//
// The idea is rsync's weak checksum (rsync/checksum.c:get_checksum1), from
// the rsync technical report by Tridgell and Mackerras: for a window
// b[0..n-1], s1 is the sum of the bytes and s2 is the sum of the running
// sums s1 after each byte, i.e. sum of (n-i)*b[i]; the checksum is
// s1 mod 2^16 in the low half and s2 mod 2^16 in the high half.
//
// The zero value is the checksum of an empty window. A Rollsum is not safe
// for concurrent use.
type Rollsum struct {
	s1, s2 uint32 // kept mod 2^32; only the low 16 bits of each count
	n      uint32 // window length
}

// Init sets r to the checksum of window.
func (r *Rollsum) Init(window []byte) {
	r.s1, r.s2 = weakSums(window)
	r.n = uint32(len(window))
}

// Roll moves the window one byte along: out is the byte leaving at the
// front (the window's first byte) and in the byte entering at the back.
// The window length stays the same.
func (r *Rollsum) Roll(out, in byte) {
	r.s1 += uint32(in) - uint32(out)
	r.s2 += r.s1 - r.n*uint32(out)
}

// Sum returns the checksum of the current window.
func (r *Rollsum) Sum() uint32 {
	return packWeak(r.s1, r.s2)
}

// WeakSum returns the weak checksum of block, as [Rollsum.Init] then
// [Rollsum.Sum] would.
func WeakSum(block []byte) uint32 {
	return packWeak(weakSums(block))
}

// packWeak combines the two running sums into the 32-bit checksum.
func packWeak(s1, s2 uint32) uint32 {
	return s1&0xffff | s2<<16
}

// weakSums computes s1 and s2 of a window from scratch, eight bytes per
// step: over bytes b0..b7, s2 grows by 8*s1 plus 8*b0 + 7*b1 + ... + 1*b7.
func weakSums(p []byte) (s1, s2 uint32) {
	for len(p) >= 8 {
		b0, b1, b2, b3 := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
		b4, b5, b6, b7 := uint32(p[4]), uint32(p[5]), uint32(p[6]), uint32(p[7])
		s2 += 8*s1 + 8*b0 + 7*b1 + 6*b2 + 5*b3 + 4*b4 + 3*b5 + 2*b6 + b7
		s1 += b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7
		p = p[8:]
	}
	for _, b := range p {
		s1 += uint32(b)
		s2 += s1
	}
	return s1, s2
}
