package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"github.com/dirsync/dirsync/engine"
)

// writebackChunk is how many bytes a [writebackWriter] lets accumulate
// before it starts writing them to disk.
const writebackChunk = 8 << 20

// writebackWriter writes to a temporary file and, every writebackChunk
// bytes, asks the kernel to start writing what it has received to disk,
// without waiting for it. The file's final fsync then finds most of it
// written already, so receiving a large file overlaps with storing it
// instead of paying for both one after the other. Where the kernel offers
// no such call, it only writes.
//
// With direct set, the file is open with O_DIRECT (see [setDirect]) and
// writes whose buffer, length and offset are aligned to directAlign go
// from the buffer to the disk without passing through the page cache,
// which only costs here: copying 1 GiB into it took 2.6 s of CPU on these
// virtual machines, where pages the guest has not touched lately must be
// faulted in by the host, while O_DIRECT wrote the same 1 GiB in 1 MiB
// writes, fsync included, in 0.5 s (dd, same machine). That holds for a
// new file too, which is not fsynced (see [Options.SyncNewFiles]): an
// initial upload of a 1 GiB file cost the server 0.7-0.8 s of system time
// with O_DIRECT and 2.2-3.6 s through the page cache (3 runs each). The
// first unaligned write turns O_DIRECT off for the rest of the file.
//
// A block of holeBlock bytes at an aligned offset that holds only zeros
// is not written but skipped with a seek, so that it stays a hole, as
// rsync -S makes it: a sparse file stays sparse, whatever ops built it (a
// zeros op, a literal, or a copy of a sparse base's hole), and [finish]
// sets the size a trailing hole leaves short.
type writebackWriter struct {
	f       *os.File
	started int64 // bytes before this offset have had writeback started
	written int64
	direct  bool
	// skipped is set when the last bytes were skipped as a hole, so that
	// the file is shorter than written until finish.
	skipped bool
}

var _ io.Writer = (*writebackWriter)(nil)

// holeBlock is the unit of the holes a writebackWriter leaves: the page
// and block size of the usual file systems, below which a hole saves no
// space.
const holeBlock = 4096

// Write writes p to the file, skipping its aligned all-zero blocks, and
// starts writeback of every full chunk.
func (w *writebackWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		data, zeros := w.split(p)
		if data > 0 {
			n, err := w.writeData(p[:data])
			total += n
			if err != nil {
				return total, err
			}
		}
		if zeros > 0 {
			if _, err := w.f.Seek(int64(zeros), io.SeekCurrent); err != nil {
				return total, fmt.Errorf("skip a hole: %w", err)
			}
			w.written += int64(zeros)
			w.started = max(w.started, w.written)
			w.skipped = true
			total += zeros
		}
		p = p[data+zeros:]
	}
	return total, nil
}

// split returns how many bytes at the start of p to write, and how many
// zero bytes after them to skip: whole blocks of holeBlock at aligned
// offsets of the file, each of them all zeros.
func (w *writebackWriter) split(p []byte) (data, zeros int) {
	off := w.written
	i := 0
	if r := int(off % holeBlock); r != 0 {
		i = min(len(p), holeBlock-r) // the rest of a block begun before
	}
	for i+holeBlock <= len(p) && !engine.IsZero(p[i:i+holeBlock]) {
		i += holeBlock
	}
	if i+holeBlock > len(p) {
		return len(p), 0 // no whole zero block left
	}
	j := i + holeBlock
	for j+holeBlock <= len(p) && engine.IsZero(p[j:j+holeBlock]) {
		j += holeBlock
	}
	return i, j - i
}

// writeData writes p, which holds data, at the current offset.
func (w *writebackWriter) writeData(p []byte) (int, error) {
	if w.direct && !w.aligned(p) {
		if err := w.leaveDirect("for an unaligned write"); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	if w.direct && n == 0 && errors.Is(err, syscall.EINVAL) {
		// The file system wants a coarser alignment than directAlign:
		// write through the page cache from now on.
		if err := w.leaveDirect(fmt.Sprintf("after %v", err)); err != nil {
			return 0, err
		}
		n, err = w.f.Write(p)
	}
	w.written += int64(n)
	w.skipped = w.skipped && n == 0
	if w.direct {
		w.started = w.written // nothing waits in the page cache
	} else if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// finish gives the file its full size when it ends in a skipped hole. Call
// it once everything is written; a nil writer has nothing to finish.
func (w *writebackWriter) finish() error {
	if w == nil || !w.skipped {
		return nil
	}
	if err := w.f.Truncate(w.written); err != nil {
		return fmt.Errorf("extend over a trailing hole: %w", err)
	}
	w.skipped = false
	return nil
}

// leaveDirect turns O_DIRECT off for the rest of the file; why says when,
// for the error.
func (w *writebackWriter) leaveDirect(why string) error {
	w.direct = false
	if !setDirect(w.f, false) {
		return errors.New("turn off O_DIRECT " + why)
	}
	return nil
}

// aligned reports whether p can be written with O_DIRECT at the current
// offset.
func (w *writebackWriter) aligned(p []byte) bool {
	return len(p) > 0 && len(p)%directAlign == 0 && w.written%directAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0
}
