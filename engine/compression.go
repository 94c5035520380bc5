package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Names of the message compression codecs both sides register. They are the
// grpc-encoding names on the wire, so other gRPC tools understand them too.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// Compressions lists the codec names a user may choose, in order of preference
// for documentation.
var Compressions = []string{CompressionNone, CompressionGzip, CompressionZstd}

// ZstdReader decompresses a zstd stream. Its zero value is not usable: build
// one with [NewZstdReader]. It is not safe for concurrent use; pools of
// readers are safe because each caller Resets its own.
type ZstdReader struct{ dec *zstd.Decoder }

// NewZstdReader returns a zstd decompressor that must be Reset onto a stream
// before use. It decodes on the calling goroutine only, which keeps memory
// per stream small.
func NewZstdReader() *ZstdReader {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		// Only invalid options make NewReader fail; ours are constant.
		panic(fmt.Sprintf("engine: zstd decoder options: %v", err))
	}
	return &ZstdReader{dec: dec}
}

// Read decompresses into p.
func (z *ZstdReader) Read(p []byte) (int, error) { return z.dec.Read(p) }

// Reset starts decompressing r.
func (z *ZstdReader) Reset(r io.Reader) error { return z.dec.Reset(r) }

// Close releases the current stream; the reader may be Reset again.
func (z *ZstdReader) Close() error { return z.dec.Reset(nil) }

// ZstdWindow is the zstd window of message compression, and the size of
// the messages the client packs, so that each message is compressed
// against all of itself. Large files do not depend on it: their literals
// travel as frames of [MaxZstdLiteralSize] that the client compresses
// itself (see [CompressLiteral]).
const ZstdWindow = 1 << 20

// zstdProfile is one way of compressing, with a pool of idle encoders that
// survives garbage collection. An encoder holds megabytes of tables, and
// the pools of the RPC library are sync.Pools, which a collection
// empties: each collection would then cost a new encoder per stream, and
// allocating and clearing those tables cost more than compressing small
// messages.
type zstdProfile struct {
	pool chan *zstd.Encoder
	opts []zstd.EOption
}

// The profiles. On the benchmark's 256 MiB text file in 2 MiB frames, one
// core compressed 98 MB/s at klauspost's "better" level, sending 0.311 of
// the input, 134 MB/s at "default" (0.317) and 164 MB/s at "fastest"
// (0.333); rsync -z sent 0.315. On incompressible data each level falls
// back to stored blocks at several hundred MB/s.
//
// Large files' literals (see [CompressLiteral]) use "better" with 2 MiB
// windows, on two cores, for the fewest bytes. Messages, which carry small
// files and listings, use "default" with 1 MiB windows: four "better"
// encoders held 22 MiB of the client's heap in a profile of an initial sync
// of 20,000 files, for about 1% fewer bytes.
//
// The server answers with the default level and a 256 KiB window: its
// messages are answers and listings, and "better" encoders with 2 MiB
// windows held 11 MiB of the server's heap on four streams in a profile
// of the same sync.
var (
	messageProfile = &zstdProfile{pool: make(chan *zstd.Encoder, 4), opts: []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(ZstdWindow),
	}}
	answerProfile = &zstdProfile{pool: make(chan *zstd.Encoder, 4), opts: []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(256 << 10),
	}}
	literalProfile = &zstdProfile{pool: make(chan *zstd.Encoder, 2), opts: []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithWindowSize(MaxZstdLiteralSize),
	}}
)

// get borrows an idle encoder, or builds one.
func (p *zstdProfile) get() *zstd.Encoder {
	select {
	case enc := <-p.pool:
		return enc
	default:
	}
	opts := append([]zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true)}, p.opts...)
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		panic(fmt.Sprintf("engine: zstd encoder options: %v", err))
	}
	return enc
}

// put gives enc back, or drops it when the pool is full.
func (p *zstdProfile) put(enc *zstd.Encoder) {
	enc.Reset(nil)
	select {
	case p.pool <- enc:
	default:
	}
}

// ZstdWriter is a zstd compressor for one message at a time, built on an
// encoder borrowed from a pool that survives garbage collection: the first
// Write after Reset borrows one, Close returns it, so an idle ZstdWriter
// holds none. Build it with [NewZstdWriter] or [NewZstdAnswerWriter]. It
// is not safe for concurrent use.
//
// A message is written in one Write, as the RPC library does, and its
// frame declares its content size: a receiver can then reserve the memory
// of the decompressed message and decompress it once, into that buffer,
// rather than measure it by decompressing it first. A second Write before
// Close fails.
type ZstdWriter struct {
	profile *zstdProfile
	w       io.Writer // destination set by Reset; nil once closed
	enc     *zstd.Encoder
	written bool // a Write has declared the frame's content size
}

// NewZstdWriter returns the client's zstd compressor for messages:
// klauspost's default level with a window of [ZstdWindow], writing on the
// calling goroutine only. Reset it onto a writer before use.
func NewZstdWriter() *ZstdWriter { return &ZstdWriter{profile: messageProfile} }

// NewZstdAnswerWriter returns the server's zstd compressor, for answers
// and listings: the default level with a 256 KiB window.
func NewZstdAnswerWriter() *ZstdWriter { return &ZstdWriter{profile: answerProfile} }

// Reset starts a new compressed stream written to w. It borrows nothing
// yet: the RPC library resets idle compressors onto io.Discard.
func (z *ZstdWriter) Reset(w io.Writer) {
	z.release()
	z.w = w
	z.written = false
}

// Write compresses p, the whole message, declaring its size in the frame.
func (z *ZstdWriter) Write(p []byte) (int, error) {
	if z.written {
		return 0, errors.New("zstd writer: a second Write to one message; write it whole")
	}
	if err := z.borrow(); err != nil {
		return 0, err
	}
	z.enc.ResetContentSize(z.w, int64(len(p)))
	z.written = true
	return z.enc.Write(p)
}

// Close ends the stream, writing an empty frame if nothing was written,
// and gives the encoder back to the pool. Closing a writer that was never
// Reset does nothing.
func (z *ZstdWriter) Close() error {
	if z.w == nil {
		return nil
	}
	if err := z.borrow(); err != nil {
		return err
	}
	err := z.enc.Close()
	z.release()
	z.w = nil
	z.written = false
	return err
}

// borrow takes an encoder from the pool, or builds one, and points it at
// the destination, unless the writer holds one already.
func (z *ZstdWriter) borrow() error {
	if z.enc != nil {
		return nil
	}
	if z.w == nil {
		return errors.New("zstd writer: Write before Reset")
	}
	z.enc = z.profile.get()
	z.enc.Reset(z.w)
	return nil
}

// release gives the encoder back to the pool, if the writer holds one.
func (z *ZstdWriter) release() {
	if z.enc == nil {
		return
	}
	z.profile.put(z.enc)
	z.enc = nil
}

// NewGzipReader returns a gzip decompressor (klauspost's, several times
// faster than the standard library's) that must be Reset before use.
func NewGzipReader() *gzip.Reader { return new(gzip.Reader) }

// NewGzipWriter returns a gzip compressor at its fastest level.
func NewGzipWriter() *gzip.Writer {
	w, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	if err != nil {
		panic(fmt.Sprintf("engine: gzip level: %v", err))
	}
	return w
}
