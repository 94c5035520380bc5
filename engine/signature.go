package engine

import (
	"fmt"
	"io"
	"math"
)

// Signature describes a base file block by block, so that [Delta] can find
// the base's blocks in a target without seeing the base itself.
//
// Blocks are BlockSize bytes each, except that the last one is shorter
// when FileSize is not a multiple of BlockSize. A Signature that arrives
// from a peer must pass [Signature.Validate] before any other use.
type Signature struct {
	// BlockSize is the number of bytes per block, in
	// [MinBlockSize, MaxBlockSize]; the last block may be shorter.
	BlockSize int

	// FileSize is the size of the base in bytes, at least 0.
	FileSize int64

	// Weak holds the [Rollsum] checksum of each block, one per block.
	Weak []uint32

	// Strong holds StrongSize bytes of strong hash per block,
	// concatenated: block i's hash is Strong[i*StrongSize:(i+1)*StrongSize].
	Strong []byte
}

// maxBlocks bounds the number of blocks in a signature or layout; block
// indexes must fit the int32 chains of the lookup table. With
// MinBlockSize it allows bases of up to 1 TiB, and more with larger blocks.
const maxBlocks = math.MaxInt32

// NumBlocks returns the number of blocks the signature describes,
// len(s.Weak). [Signature.Validate] checks that this agrees with FileSize
// and BlockSize.
func (s *Signature) NumBlocks() int {
	return len(s.Weak)
}

// Layout returns the shape of the base the signature describes, which is
// all a [Patcher] needs to know about it.
func (s *Signature) Layout() Layout {
	return Layout{BlockSize: s.BlockSize, FileSize: s.FileSize}
}

// Validate checks that s is well formed: its layout is valid and Weak and
// Strong hold exactly one entry per block. It never panics, whatever the
// fields hold, and its errors wrap [ErrInvalidSignature]. Signatures from
// the network must pass Validate before use; [Delta] calls it itself.
func (s *Signature) Validate() error {
	if s == nil {
		return fmt.Errorf("nil signature: %w", ErrInvalidSignature)
	}
	l := s.Layout()
	if err := l.Validate(); err != nil {
		return err
	}
	n := l.NumBlocks()
	if int64(len(s.Weak)) != n {
		return fmt.Errorf("%d weak checksums for %d blocks: %w", len(s.Weak), n, ErrInvalidSignature)
	}
	if int64(len(s.Strong)) != n*StrongSize {
		return fmt.Errorf("%d strong hash bytes for %d blocks: %w", len(s.Strong), n, ErrInvalidSignature)
	}
	return nil
}

// Layout is the shape of a base: how it divides into blocks. A [Patcher]
// checks copy operations against it. A Layout from the network must pass
// [Layout.Validate].
type Layout struct {
	BlockSize int   // bytes per block, in [MinBlockSize, MaxBlockSize]
	FileSize  int64 // size of the base in bytes, at least 0
}

// NumBlocks returns the number of blocks in the base, counting a shorter
// final block. It returns 0 for a layout with a non-positive BlockSize or
// negative FileSize rather than panicking.
func (l Layout) NumBlocks() int64 {
	if l.BlockSize <= 0 || l.FileSize <= 0 {
		return 0
	}
	bs := int64(l.BlockSize)
	n := l.FileSize / bs
	if l.FileSize%bs != 0 {
		n++
	}
	return n
}

// lastBlockLen returns the length of the final block, or 0 when the base
// is empty. l must be valid.
func (l Layout) lastBlockLen() int {
	if l.FileSize == 0 {
		return 0
	}
	if r := int(l.FileSize % int64(l.BlockSize)); r != 0 {
		return r
	}
	return l.BlockSize
}

// Validate checks that the block size is in [MinBlockSize, MaxBlockSize],
// the file size is not negative, and the block count fits the engine's
// limits. Its errors wrap [ErrInvalidSignature].
func (l Layout) Validate() error {
	if l.BlockSize < MinBlockSize || l.BlockSize > MaxBlockSize {
		return fmt.Errorf("block size %d outside [%d, %d]: %w", l.BlockSize, MinBlockSize, MaxBlockSize, ErrInvalidSignature)
	}
	if l.FileSize < 0 {
		return fmt.Errorf("negative file size %d: %w", l.FileSize, ErrInvalidSignature)
	}
	if n := l.NumBlocks(); n > maxBlocks {
		return fmt.Errorf("%d blocks exceed the limit of %d: %w", n, maxBlocks, ErrInvalidSignature)
	}
	return nil
}

// signChunk is how many bytes Sign reads at a time, rounded down to whole
// blocks (and at least one block).
const signChunk = 256 << 10

// Sign reads base to EOF and returns its signature.
//
// A blockSize of 0 means [BlockSizeFor](sizeHint); sizeHint is only a
// hint, and FileSize records the bytes actually read. Any other blockSize
// in [MinBlockSize, MaxBlockSize] is used exactly; one outside that range
// is an error wrapping [ErrInvalidSignature]. Sign reads through one
// fixed buffer, so besides the signature itself it uses bounded memory.
// Read errors are returned wrapped.
func Sign(base io.Reader, sizeHint int64, blockSize int) (*Signature, error) {
	if blockSize == 0 {
		blockSize = BlockSizeFor(sizeHint)
	}
	if blockSize < MinBlockSize || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("sign: block size %d outside [%d, %d]: %w", blockSize, MinBlockSize, MaxBlockSize, ErrInvalidSignature)
	}
	sig := &Signature{BlockSize: blockSize}
	if sizeHint > 0 {
		// Trust the hint only so far: it sizes the slices up front, but a
		// wrong hint must not cost more than a few MiB.
		n := min((sizeHint+int64(blockSize)-1)/int64(blockSize), 1<<18)
		sig.Weak = make([]uint32, 0, n)
		sig.Strong = make([]byte, 0, n*StrongSize)
	}
	// Read whole blocks, enough for the hinted size and one byte more, so
	// a small base is read in one call without a large buffer.
	blocks := max(signChunk/blockSize, 1)
	if sizeHint >= 0 && sizeHint < int64(blocks*blockSize) {
		blocks = int(sizeHint/int64(blockSize)) + 1
	}
	buf := make([]byte, blocks*blockSize)
	for {
		n, eof, err := readFull(base, buf)
		if err != nil {
			return nil, fmt.Errorf("sign: read base: %w", err)
		}
		for p := buf[:n]; len(p) > 0; {
			block := p[:min(blockSize, len(p))]
			p = p[len(block):]
			if int64(len(sig.Weak)) >= maxBlocks {
				return nil, fmt.Errorf("sign: base exceeds %d blocks: %w", maxBlocks, ErrInvalidSignature)
			}
			sig.Weak = append(sig.Weak, WeakSum(block))
			strong := strongSum(block)
			sig.Strong = append(sig.Strong, strong[:]...)
		}
		sig.FileSize += int64(n)
		if eof {
			return sig, nil
		}
	}
}
