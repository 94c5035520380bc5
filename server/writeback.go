package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"
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
type writebackWriter struct {
	f       *os.File
	started int64 // bytes before this offset have had writeback started
	written int64
	direct  bool
}

var _ io.Writer = (*writebackWriter)(nil)

// Write writes p to the file and starts writeback of every full chunk.
func (w *writebackWriter) Write(p []byte) (int, error) {
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
	if w.direct {
		w.started = w.written // nothing waits in the page cache
	} else if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
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
