package server

import (
	"io"
	"sync"
)

// Bounds of a [pipeWriter]: it holds at most pipeDepth chunks of
// pipeChunk bytes waiting to be written, plus the one being filled.
const (
	pipeChunk = 1 << 20
	pipeDepth = 4
	// pipeMinFile is the smallest declared file size that gets a
	// pipeWriter; smaller files are written through a bufio.Writer on
	// the receiving goroutine, where a goroutine per file would cost
	// more than it saves.
	pipeMinFile = 8 << 20
)

// pipeChunks holds the chunk buffers of pipeWriters.
var pipeChunks = sync.Pool{New: func() any { return new([pipeChunk]byte) }}

// flushWriter is a buffered writer: what Write accepts reaches the file
// by the time Flush returns, or Flush reports why not.
type flushWriter interface {
	io.Writer
	Flush() error
}

// pipeWriter writes to w on a goroutine of its own. Write copies into a
// chunk and hands full chunks over; the goroutine writes them in order.
// Receiving and verifying a large file (the HTTP/2 reads, the patcher's
// reads of the base, the SHA-256) then overlaps with the copy of its
// bytes into the page cache, which on its own took more than half of the
// server's CPU time for a 1 GiB delta (perf, 2 vCPUs).
//
// The first write error is sticky: later calls to Write and Flush return
// it. A pipeWriter is used by one goroutine; call close exactly once,
// after which w is no longer written.
type pipeWriter struct {
	w     io.Writer
	cur   *[pipeChunk]byte
	n     int           // bytes of cur in use
	queue chan pipeItem // chunks, and flush barriers, for the goroutine
	acks  chan struct{} // one per barrier, once everything before it is written
	done  chan struct{} // closed when the goroutine has returned
	errMu sync.Mutex    // guards err
	err   error         // the first write error
}

// pipeItem is a chunk to write, or, with data nil, a barrier to answer
// on acks.
type pipeItem struct {
	data *[pipeChunk]byte
	n    int
}

// newPipeWriter starts a pipeWriter writing to w.
func newPipeWriter(w io.Writer) *pipeWriter {
	p := &pipeWriter{
		w:     w,
		queue: make(chan pipeItem, pipeDepth),
		acks:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

// run writes the queued chunks until the queue is closed.
func (p *pipeWriter) run() {
	defer close(p.done)
	for it := range p.queue {
		if it.data == nil {
			p.acks <- struct{}{}
			continue
		}
		if p.firstErr() == nil {
			n, err := p.w.Write(it.data[:it.n])
			if err == nil && n < it.n {
				err = io.ErrShortWrite
			}
			if err != nil {
				p.setErr(err)
			}
		}
		pipeChunks.Put(it.data)
	}
}

func (p *pipeWriter) firstErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

func (p *pipeWriter) setErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Write copies b into chunks and hands each full one to the goroutine. It
// fails with the first error a write of an earlier chunk met.
func (p *pipeWriter) Write(b []byte) (int, error) {
	if err := p.firstErr(); err != nil {
		return 0, err
	}
	written := 0
	for len(b) > 0 {
		if p.cur == nil {
			p.cur, p.n = pipeChunks.Get().(*[pipeChunk]byte), 0
		}
		c := copy(p.cur[p.n:], b)
		p.n += c
		written += c
		b = b[c:]
		if p.n == pipeChunk {
			p.handOver()
		}
	}
	return written, nil
}

// handOver queues the current chunk, waiting while pipeDepth chunks are
// queued already.
func (p *pipeWriter) handOver() {
	p.queue <- pipeItem{data: p.cur, n: p.n}
	p.cur, p.n = nil, 0
}

// Flush hands over the current chunk and waits until everything written
// so far has been written to w.
func (p *pipeWriter) Flush() error {
	if p.cur != nil && p.n > 0 {
		p.handOver()
	}
	p.queue <- pipeItem{}
	<-p.acks
	return p.firstErr()
}

// close stops the goroutine after it has written, or skipped after an
// error, every chunk handed over, and drops the unflushed rest. w is not
// written after close returns.
func (p *pipeWriter) close() {
	close(p.queue)
	<-p.done
	if p.cur != nil {
		pipeChunks.Put(p.cur)
		p.cur = nil
	}
}
