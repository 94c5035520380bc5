package server

import (
	"io"
	"os"
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
type writebackWriter struct {
	f       *os.File
	started int64 // bytes before this offset have had writeback started
	written int64
}

var _ io.Writer = (*writebackWriter)(nil)

// Write writes p to the file and starts writeback of every full chunk.
func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}
