package client

import (
	"errors"
	"io"
	"sync"

	"github.com/dirsync/dirsync/engine"
)

// zstdBlock is one frame's worth of a file in [sendZstdLiterals].
type zstdBlock struct {
	raw   *[engine.MaxZstdLiteralSize]byte
	n     int
	frame []byte
	done  chan struct{}
}

// zstdRawBuffers holds the read buffers of sendZstdLiterals.
var zstdRawBuffers = sync.Pool{New: func() any { return new([engine.MaxZstdLiteralSize]byte) }}

// sendZstdLiterals reads r to its end in blocks of
// engine.MaxZstdLiteralSize bytes, compresses each into a zstd frame on
// one of workers goroutines, and emits the frames in order with the size
// each stands for; emit owns the frames it is given. At most workers+1
// blocks are read ahead.
func sendZstdLiterals(r io.Reader, workers int, emit func(frame []byte, size int) error) error {
	work := make(chan *zstdBlock)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				b.frame = engine.CompressLiteral(b.frame[:0], b.raw[:b.n])
				close(b.done)
			}
		})
	}
	defer wg.Wait()
	defer close(work)

	var queue []*zstdBlock // handed to the workers, oldest first
	var emitErr error
	// drain emits the oldest block once it is compressed.
	drain := func() {
		b := queue[0]
		queue = queue[1:]
		<-b.done
		if emitErr == nil {
			emitErr = emit(b.frame, b.n)
		}
		zstdRawBuffers.Put(b.raw)
	}
	defer func() {
		for len(queue) > 0 {
			drain()
		}
	}()
	for emitErr == nil {
		raw := zstdRawBuffers.Get().(*[engine.MaxZstdLiteralSize]byte)
		n, err := io.ReadFull(r, raw[:])
		if n == 0 {
			zstdRawBuffers.Put(raw)
		} else {
			b := &zstdBlock{raw: raw, n: n, done: make(chan struct{})}
			work <- b
			queue = append(queue, b)
			if len(queue) > workers {
				drain()
			}
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			for len(queue) > 0 && emitErr == nil {
				drain()
			}
			return emitErr
		case err != nil:
			emitErr = err // the blocks still queued are not emitted
			return err
		}
	}
	return emitErr
}
