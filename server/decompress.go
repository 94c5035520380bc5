package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	"github.com/dirsync/dirsync/engine"
)

// errDecompressedTooLarge ends a decompression that has produced more than
// its limit. Connect turns it into ResourceExhausted.
var errDecompressedTooLarge = errors.New("decompressed message exceeds the read limit")

// errInflatedTooLarge is the error for a message that decompresses, or
// declares that it decompresses, to more than limit bytes.
func errInflatedTooLarge(limit int64) error {
	return connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("message decompresses to more than %d bytes (--max-message-bytes)", limit))
}

// boundedDecompressor is a [connect.Decompressor] that produces at most
// limit+1 bytes and then fails. Connect reads limit+1 bytes to learn that
// a message is too large, and then drains the decompressor to report its
// size: without the bound, that drain would inflate a whole gzip or zstd
// bomb (256 MiB from a 255 KiB frame) only to count it.
type boundedDecompressor struct {
	connect.Decompressor
	limit int64
	n     int64
}

// Read decompresses into p, failing once limit+1 bytes have been read.
func (d *boundedDecompressor) Read(p []byte) (int, error) {
	if d.n > d.limit {
		return 0, errDecompressedTooLarge
	}
	if rest := d.limit + 1 - d.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := d.Decompressor.Read(p)
	d.n += int64(n)
	return n, err
}

// Reset starts decompressing r, with a fresh count.
func (d *boundedDecompressor) Reset(r io.Reader) error {
	d.n = 0
	return d.Decompressor.Reset(r)
}

// decompressors returns the server's decompressors by encoding name.
func decompressors() map[string]func() connect.Decompressor {
	return map[string]func() connect.Decompressor{
		engine.CompressionGzip: func() connect.Decompressor { return engine.NewGzipReader() },
		engine.CompressionZstd: func() connect.Decompressor { return engine.NewZstdReader() },
	}
}

// compressionOptions registers the server's codecs, gzip and zstd, on a
// handler whose messages may be at most limit bytes after decompression.
// They replace Connect's default gzip, which would inflate a bomb to
// count it.
func compressionOptions(limit int) []connect.HandlerOption {
	dec := decompressors()
	bounded := func(name string) func() connect.Decompressor {
		return func() connect.Decompressor {
			return &boundedDecompressor{Decompressor: dec[name](), limit: int64(limit)}
		}
	}
	return []connect.HandlerOption{
		connect.WithReadMaxBytes(limit),
		connect.WithCompression(engine.CompressionGzip, bounded(engine.CompressionGzip),
			func() connect.Compressor { return engine.NewGzipWriter() }),
		connect.WithCompression(engine.CompressionZstd, bounded(engine.CompressionZstd),
			func() connect.Compressor { return engine.NewZstdAnswerWriter() }),
	}
}

// sizer measures how many bytes a compressed message inflates to without
// keeping them, so that the memory they will take can be reserved before
// Connect allocates it. Its decompressors are pooled by encoding. It is
// safe for concurrent use.
type sizer struct {
	pools map[string]*sync.Pool
}

// newSizer returns a sizer for the server's encodings.
func newSizer() *sizer {
	s := &sizer{pools: map[string]*sync.Pool{}}
	for name, f := range decompressors() {
		s.pools[name] = &sync.Pool{New: func() any { return f() }}
	}
	return s
}

// size returns the decompressed size of data in encoding, or an error if
// it exceeds limit, in which case it stops at limit+1 bytes. An encoding
// the server does not know, or data that does not decompress, measures
// as the bytes decompressed so far with no error: Connect refuses those
// messages itself, with the right code, before it allocates more.
func (s *sizer) size(encoding string, data []byte, limit int64) (int64, error) {
	pool, ok := s.pools[encoding]
	if !ok {
		return 0, nil
	}
	dec := pool.Get().(connect.Decompressor)
	if err := dec.Reset(bytes.NewReader(data)); err != nil {
		// A reader whose Reset failed may not be closed (gzip's has no
		// inflater yet); it is dropped, as Connect drops it.
		return 0, nil
	}
	defer func() {
		if dec.Close() == nil {
			_ = dec.Reset(bytes.NewReader(nil)) // drop the reference to data
			pool.Put(dec)
		}
	}()
	n, _ := io.CopyN(io.Discard, dec, limit+1)
	if n > limit {
		return n, errInflatedTooLarge(limit)
	}
	return n, nil
}

// zstdContentSize returns the content size that the zstd frame at the
// start of data declares, if it declares one. The declaration is a
// peer's claim: [sizer.inflate] checks it.
func zstdContentSize(data []byte) (int64, bool) {
	var h zstd.Header
	if h.Decode(data) != nil || h.Skippable || !h.HasFCS || h.FrameContentSize > math.MaxInt32 {
		return 0, false
	}
	return int64(h.FrameContentSize), true
}

// inflate decompresses data, in encoding, into dst, and reports whether
// it decompressed to exactly len(dst) bytes. It writes nothing beyond dst
// and stops decompressing one byte past it, so a frame that lies about
// its size costs no more than its claim and a block of the decoder's.
func (s *sizer) inflate(encoding string, data, dst []byte) bool {
	pool, ok := s.pools[encoding]
	if !ok {
		return false
	}
	dec := pool.Get().(connect.Decompressor)
	if err := dec.Reset(bytes.NewReader(data)); err != nil {
		return false // dropped, as in size
	}
	defer func() {
		if dec.Close() == nil {
			_ = dec.Reset(bytes.NewReader(nil))
			pool.Put(dec)
		}
	}()
	if _, err := io.ReadFull(dec, dst); err != nil {
		return false
	}
	var one [1]byte
	_, err := io.ReadFull(dec, one[:])
	return errors.Is(err, io.EOF)
}
