package client

import (
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/dirsync/dirsync/engine"
)

// extentFunc is called with each extent of a file in order: data to send,
// or, with hole set, a run of zeros to name with a zeros op.
type extentFunc func(off, n int64, hole bool) error

// zeroBlock is read-only: the zeros hashZeros hashes.
var zeroBlock [256 << 10]byte

// hashZeros writes n zero bytes into h: a hole is part of the file's
// content, and of its SHA-256, as the zeros it reads as.
func hashZeros(h hash.Hash, n int64) {
	for n > 0 {
		c := min(n, int64(len(zeroBlock)))
		h.Write(zeroBlock[:c])
		n -= c
	}
}

// sendExtents sends the bytes of f from off to size: each data extent by
// data, reading from f positioned at its start through h, and each hole
// (see [eachExtent]) as one zeros op given to emit, hashed into h. It
// reports whether f ended before size.
func sendExtents(f *os.File, off, size int64, h hash.Hash, data func(io.Reader) error, emit func(engine.Op) error) (short bool, err error) {
	err = eachExtent(f, off, size, func(off, n int64, hole bool) error {
		if hole {
			hashZeros(h, n)
			return emit(engine.Op{Kind: engine.OpZeros, Count: n})
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("seek: %w", err)
		}
		lr := &io.LimitedReader{R: f, N: n}
		if err := data(io.TeeReader(lr, h)); err != nil {
			return err
		}
		if lr.N != 0 {
			short = true
			return errShortExtent
		}
		return nil
	})
	if err == errShortExtent {
		err = nil
	}
	return short, err
}

// errShortExtent stops sendExtents at a file that ended early.
var errShortExtent = fmt.Errorf("file ended early")
