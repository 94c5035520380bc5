package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
)

// copyBufSize is the size of the buffer a Patcher copies base runs
// through; longer runs take several reads.
const copyBufSize = 256 << 10

// Patcher rebuilds a target by applying [Op] values to a base, writing the
// result to an output and hashing it with SHA-256 as it writes.
//
// A Patcher is the trust boundary for operations from a peer: Apply checks
// each op against the base's [Layout] before it reads or writes anything,
// and never panics on a hostile op. Its memory use is bounded by a copy
// buffer of at most 256 KiB, whatever the ops ask for.
//
// The first error is sticky: after Apply fails, every later Apply and
// Finish return that error, since the output is then incomplete. A Patcher
// is not safe for concurrent use. The caller owns base and out and closes
// them, if they need closing.
type Patcher struct {
	base    io.ReaderAt
	layout  Layout
	blocks  int64
	out     io.Writer // the caller's writer and sum, together
	sum     hash.Hash
	buf     []byte // copy buffer, allocated by the first copy
	written int64
	err     error // first error, returned from then on
	done    bool  // Finish was called
}

// NewPatcher returns a Patcher that applies ops against base, whose shape
// is layout, and writes the result to out. It validates layout, with
// errors wrapping [ErrInvalidSignature]. base may be nil only when layout
// describes an empty base.
func NewPatcher(base io.ReaderAt, layout Layout, out io.Writer) (*Patcher, error) {
	if err := layout.Validate(); err != nil {
		return nil, fmt.Errorf("new patcher: %w", err)
	}
	if base == nil && layout.FileSize > 0 {
		return nil, fmt.Errorf("new patcher: nil base for a %d-byte layout", layout.FileSize)
	}
	if out == nil {
		return nil, errors.New("new patcher: nil output")
	}
	sum := sha256.New()
	return &Patcher{
		base:   base,
		layout: layout,
		blocks: layout.NumBlocks(),
		out:    io.MultiWriter(out, sum),
		sum:    sum,
	}, nil
}

// Apply checks op and applies it, writing its bytes to the output.
//
// A copy op must have Block >= 0 (else [ErrBlockOutOfRange]), Count >= 1
// (else [ErrInvalidOp]), Block+Count at most the number of base blocks
// without overflow (else [ErrBlockOutOfRange]) and no Data (else
// [ErrInvalidOp]). A literal op must carry 1 to [MaxLiteralSize] bytes
// (else [ErrInvalidOp] for none, [ErrLiteralTooLarge] for more) and have
// zero Block and Count (else [ErrInvalidOp]). A zeros op must have
// Count >= 1 and neither Block nor Data (else [ErrInvalidOp]); the output
// bounds how many zeros it may write. Any other kind is [ErrInvalidOp].
// Read and write errors are returned wrapped; a base that turns out
// shorter than its layout gives an error wrapping [io.ErrUnexpectedEOF].
func (p *Patcher) Apply(op Op) error {
	if p.err != nil {
		return p.err
	}
	if p.done {
		return fmt.Errorf("patch: apply after finish: %w", ErrInvalidOp)
	}
	if err := p.check(op); err != nil {
		p.err = fmt.Errorf("patch: %v: %w", op, err)
		return p.err
	}
	var err error
	switch op.Kind {
	case OpCopy:
		err = p.copyBlocks(op.Block, op.Count)
	case OpZeros:
		err = p.writeZeros(op.Count)
	default:
		err = p.write(op.Data)
	}
	if err != nil {
		p.err = fmt.Errorf("patch: %v: %w", op, err)
	}
	return p.err
}

// check validates op against the layout without side effects.
func (p *Patcher) check(op Op) error {
	switch op.Kind {
	case OpCopy:
		switch {
		case op.Block < 0:
			return fmt.Errorf("negative block: %w", ErrBlockOutOfRange)
		case op.Count < 1:
			return fmt.Errorf("count below 1: %w", ErrInvalidOp)
		case op.Count > math.MaxInt64-op.Block:
			return fmt.Errorf("block range overflows: %w", ErrBlockOutOfRange)
		case op.Block+op.Count > p.blocks:
			return fmt.Errorf("base has %d blocks: %w", p.blocks, ErrBlockOutOfRange)
		case len(op.Data) != 0:
			return fmt.Errorf("copy carries data: %w", ErrInvalidOp)
		}
	case OpLiteral:
		switch {
		case len(op.Data) == 0:
			return fmt.Errorf("empty literal: %w", ErrInvalidOp)
		case len(op.Data) > MaxLiteralSize:
			return fmt.Errorf("more than %d bytes: %w", MaxLiteralSize, ErrLiteralTooLarge)
		case op.Block != 0 || op.Count != 0:
			return fmt.Errorf("literal names blocks: %w", ErrInvalidOp)
		}
	case OpZeros:
		switch {
		case op.Count < 1:
			return fmt.Errorf("count below 1: %w", ErrInvalidOp)
		case op.Block != 0 || len(op.Data) != 0:
			return fmt.Errorf("zeros name blocks or carry data: %w", ErrInvalidOp)
		}
	default:
		return fmt.Errorf("unknown kind: %w", ErrInvalidOp)
	}
	return nil
}

// zeroChunk is read-only: the zeros that writeZeros writes, and that
// [IsZero] compares with.
var zeroChunk [copyBufSize]byte

// writeZeros writes n zero bytes to the output and the hash, a chunk at a
// time. The output bounds n: the caller's writer refuses what exceeds the
// file it builds.
func (p *Patcher) writeZeros(n int64) error {
	for n > 0 {
		chunk := zeroChunk[:min(int64(len(zeroChunk)), n)]
		if err := p.write(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// IsZero reports whether b holds only zero bytes.
func IsZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroChunk))
		if !bytes.Equal(b[:n], zeroChunk[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// copyBlocks copies count base blocks from block on, which check has
// found to be in range, through the reused copy buffer.
func (p *Patcher) copyBlocks(block, count int64) error {
	bs := int64(p.layout.BlockSize)
	off := block * bs
	end := p.layout.FileSize
	if block+count < p.blocks {
		end = (block + count) * bs
	}
	if p.buf == nil {
		p.buf = make([]byte, min(copyBufSize, p.layout.FileSize))
	}
	for off < end {
		chunk := p.buf[:min(int64(len(p.buf)), end-off)]
		n, err := p.base.ReadAt(chunk, off)
		if n < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read base at offset %d: %w", off+int64(n), err)
		}
		if err := p.write(chunk); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// write writes b to the output and the hash.
func (p *Patcher) write(b []byte) error {
	n, err := p.out.Write(b)
	p.written += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// Written returns the number of bytes written to the output so far,
// including a prefix given to [Patcher.Resume].
func (p *Patcher) Written() int64 {
	return p.written
}

// Resume takes the bytes read from prefix, up to its end, as the start of
// the output that an earlier, interrupted attempt already wrote: they are
// hashed into the SHA-256 that Finish checks and counted by Written, but
// not written to the output again. It must be called before the first
// Apply, at most once, and returns the number of bytes read. Nothing about
// the prefix is trusted: Finish still checks the SHA-256 of the whole.
func (p *Patcher) Resume(prefix io.Reader) (int64, error) {
	switch {
	case p.err != nil:
		return 0, p.err
	case p.done || p.written != 0:
		return 0, fmt.Errorf("patch: resume after output: %w", ErrInvalidOp)
	}
	n, err := io.Copy(p.sum, prefix)
	p.written = n
	if err != nil {
		p.err = fmt.Errorf("patch: read resumed prefix: %w", err)
		return n, p.err
	}
	return n, nil
}

// Sum returns the SHA-256 of the output written so far, a resumed prefix
// included. It does not change the state of the Patcher.
func (p *Patcher) Sum() [32]byte {
	var sum [32]byte
	p.sum.Sum(sum[:0])
	return sum
}

// Finish checks the SHA-256 of everything written against want. A
// mismatch gives a *[ChecksumMismatchError], which matches
// [ErrChecksumMismatch]. After an Apply error, Finish returns that error.
// Finish may be called once; the Patcher is unusable afterwards.
func (p *Patcher) Finish(want [32]byte) error {
	if p.err != nil {
		return p.err
	}
	if p.done {
		return fmt.Errorf("patch: finish called twice: %w", ErrInvalidOp)
	}
	p.done = true
	var got [32]byte
	p.sum.Sum(got[:0])
	if got != want {
		return &ChecksumMismatchError{Want: want, Got: got}
	}
	return nil
}

// Patch applies ops to base, whose shape is layout, writes the result to
// out and checks that its SHA-256 is want. It is [NewPatcher], [Patcher.Apply]
// for each op, then [Patcher.Finish], and returns the first error.
func Patch(base io.ReaderAt, layout Layout, ops []Op, out io.Writer, want [32]byte) error {
	p, err := NewPatcher(base, layout, out)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := p.Apply(op); err != nil {
			return err
		}
	}
	return p.Finish(want)
}
