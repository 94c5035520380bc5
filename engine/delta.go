package engine

import (
	"fmt"
	"io"
)

// DeltaStats summarises the operations one [Delta] call emitted.
type DeltaStats struct {
	MatchedBytes int64 // target bytes covered by block copies
	LiteralBytes int64 // target bytes sent as literals
	Ops          int   // operations emitted
}

// Delta reads target once and streams, through emit, the operations that
// turn the base described by sig into target.
//
// It validates sig first; an invalid one gives an error wrapping
// [ErrInvalidSignature]. It then rolls the weak checksum through the
// target one byte at a time and confirms each weak hit with the strong
// hash, so it copes with insertions and deletions, not only overwrites.
// After a match it jumps a whole block. When several blocks could match it
// prefers the one that continues the current run. The base's final short
// block matches only the target's tail.
//
// Consecutive block matches coalesce into one [OpCopy] of at most
// [MaxRunBytes] and literals never exceed [MaxLiteralSize] bytes. An emitted Op's Data aliases Delta's
// buffer and is valid only until emit returns. Delta never holds the whole
// target: it uses a buffer of about 2*MaxLiteralSize + 2*sig.BlockSize
// bytes plus an index of a few bytes per block.
//
// An error from emit aborts Delta and is returned wrapped; so is a read
// error. The stats count what was emitted before the error. emit is called
// from Delta's goroutine only.
func Delta(sig *Signature, target io.Reader, emit func(Op) error) (DeltaStats, error) {
	if err := sig.Validate(); err != nil {
		return DeltaStats{}, fmt.Errorf("delta: %w", err)
	}
	d := newDeltaState(sig, emit)
	err := d.run(target)
	return d.stats, err
}

// deltaState is the state of one Delta call.
//
// The buffer holds target bytes buf[0:end]. Bytes before litStart have
// been emitted; buf[litStart:pos] is a literal not yet emitted, at most
// MaxLiteralSize bytes; the window being tested starts at pos.
type deltaState struct {
	sig     *Signature
	bs      int
	full    int // number of full-size base blocks; they are indexed
	lastLen int // length of the final base block if it is short, else 0
	ix      *blockIndex
	emit    func(Op) error
	stats   DeltaStats

	// Pending copy run, not yet emitted; runCount 0 means none.
	runStart, runCount int64

	buf                []byte
	litStart, pos, end int
	eof                bool
}

func newDeltaState(sig *Signature, emit func(Op) error) *deltaState {
	d := &deltaState{
		sig:  sig,
		bs:   sig.BlockSize,
		full: int(sig.FileSize / int64(sig.BlockSize)),
		emit: emit,
	}
	if r := int(sig.FileSize % int64(sig.BlockSize)); r != 0 {
		d.lastLen = r
	}
	d.ix = newBlockIndex(sig, d.full)
	d.buf = make([]byte, min(deltaInitialBuf+2*d.bs, d.maxBuf()))
	return d
}

// deltaInitialBuf is the read room Delta's buffer starts with, beyond two
// blocks. The buffer grows to maxBuf only when a target needs it, so small
// files cost little memory.
const deltaInitialBuf = 16 << 10

// maxBuf is the most buffer Delta uses: room for a pending literal of
// MaxLiteralSize, the window after it, and as much again to read into.
func (d *deltaState) maxBuf() int {
	return 2*MaxLiteralSize + 2*d.bs
}

// run is the body of Delta.
func (d *deltaState) run(target io.Reader) error {
	bs := d.bs
	var s1, s2 uint32
	valid := false   // s1, s2 are the sums of the window at pos
	checked := false // the window at pos was tested and did not match
	for {
		need := bs
		if checked {
			need = bs + 1 // rolling on needs the byte after the window
		}
		if d.end-d.pos < need {
			if !d.eof {
				if err := d.refill(target); err != nil {
					return err
				}
				continue
			}
			break
		}
		if !valid {
			s1, s2 = weakSums(d.buf[d.pos : d.pos+bs])
			valid = true
		}
		if checked {
			if d.pos-d.litStart == MaxLiteralSize {
				if err := d.literal(d.buf[d.litStart:d.pos]); err != nil {
					return err
				}
				d.litStart = d.pos
			}
			out, in := uint32(d.buf[d.pos]), uint32(d.buf[d.pos+bs])
			s1 += in - out
			s2 += s1 - uint32(bs)*out
			d.pos++
			checked = false
		}
		limit := min(d.end-bs, d.litStart+MaxLiteralSize)
		var hit bool
		d.pos, s1, s2, hit = d.ix.scan(d.buf, d.pos, limit, bs, s1, s2)
		if hit {
			if b := d.find(d.buf[d.pos:d.pos+bs], packWeak(s1, s2)); b >= 0 {
				if err := d.matched(b, bs); err != nil {
					return err
				}
				valid = false
				continue
			}
		}
		checked = true
	}
	return d.finish()
}

// refill moves the unemitted bytes to the front of the buffer and reads
// more of the target after them. When less than half the buffer is free
// for reading, it first doubles the buffer, up to maxBuf. Since the
// unemitted bytes never exceed MaxLiteralSize plus one block, maxBuf
// always leaves room for more than a block.
func (d *deltaState) refill(target io.Reader) error {
	kept := d.end - d.litStart
	if 2*kept > len(d.buf) && len(d.buf) < d.maxBuf() {
		buf := make([]byte, min(2*len(d.buf), d.maxBuf()))
		copy(buf, d.buf[d.litStart:d.end])
		d.buf = buf
	} else if d.litStart > 0 {
		copy(d.buf, d.buf[d.litStart:d.end])
	}
	d.pos -= d.litStart
	d.end = kept
	d.litStart = 0
	n, eof, err := readFull(target, d.buf[d.end:])
	d.end += n
	d.eof = eof
	if err != nil {
		return fmt.Errorf("delta: read target: %w", err)
	}
	return nil
}

// find returns the full-size base block equal to window, whose weak
// checksum is weak, or -1. It tries the block that would continue the
// pending run first, then the blocks in weak's bucket, and computes the
// strong hash of window at most once.
func (d *deltaState) find(window []byte, weak uint32) int {
	var strong [StrongSize]byte
	computed := false
	same := func(b int) bool {
		if !computed {
			strong = strongSum(window)
			computed = true
		}
		return string(d.sig.Strong[b*StrongSize:(b+1)*StrongSize]) == string(strong[:])
	}
	if d.runCount > 0 {
		if b := int(d.runStart + d.runCount); b < d.full && d.sig.Weak[b] == weak && same(b) {
			return b
		}
	}
	b := d.ix.lookup(weak)
	for range maxChainWalk {
		if b < 0 {
			break
		}
		if d.sig.Weak[b] == weak && same(int(b)) {
			return int(b)
		}
		b = d.ix.next[b]
	}
	return -1
}

// matched records that the n bytes at pos equal base block b: it emits the
// literal before them, extends or starts a copy run, and moves past them.
func (d *deltaState) matched(b, n int) error {
	if err := d.literal(d.buf[d.litStart:d.pos]); err != nil {
		return err
	}
	if d.runCount > 0 && d.runStart+d.runCount == int64(b) && (d.runCount+1)*int64(d.bs) <= MaxRunBytes {
		d.runCount++
	} else {
		if err := d.flushRun(); err != nil {
			return err
		}
		d.runStart, d.runCount = int64(b), 1
	}
	d.stats.MatchedBytes += int64(n)
	d.pos += n
	d.litStart = d.pos
	return nil
}

// finish handles the tail of the target, shorter than a block or already
// tested: it matches the base's final short block against the last bytes
// of the target, then emits whatever is still pending.
func (d *deltaState) finish() error {
	if n := d.lastLen; n > 0 && d.end-d.pos >= n {
		tail := d.buf[d.end-n : d.end]
		last := d.full
		if WeakSum(tail) == d.sig.Weak[last] {
			if s := strongSum(tail); string(s[:]) == string(d.sig.Strong[last*StrongSize:]) {
				d.pos = d.end - n
				if err := d.matched(last, n); err != nil {
					return err
				}
			}
		}
	}
	if err := d.literal(d.buf[d.litStart:d.end]); err != nil {
		return err
	}
	d.litStart, d.pos = d.end, d.end
	return d.flushRun()
}

// literal emits p as literal ops of at most MaxLiteralSize bytes each,
// after the pending copy run. An empty p emits nothing.
func (d *deltaState) literal(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := d.flushRun(); err != nil {
		return err
	}
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxLiteralSize)]
		p = p[len(chunk):]
		if err := d.emit(Op{Kind: OpLiteral, Data: chunk}); err != nil {
			return fmt.Errorf("delta: emit literal: %w", err)
		}
		d.stats.Ops++
		d.stats.LiteralBytes += int64(len(chunk))
	}
	return nil
}

// flushRun emits the pending copy run, if any.
func (d *deltaState) flushRun() error {
	if d.runCount == 0 {
		return nil
	}
	op := Op{Kind: OpCopy, Block: d.runStart, Count: d.runCount}
	d.runCount = 0
	if err := d.emit(op); err != nil {
		return fmt.Errorf("delta: emit copy: %w", err)
	}
	d.stats.Ops++
	return nil
}
