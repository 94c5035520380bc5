package engine

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// MaxZstdLiteralSize is the most bytes one compressed literal (a zstd
// frame the sender compressed itself) stands for: the zstd window, so each
// frame is compressed against all of itself, as the messages of a
// compressed stream are.
const MaxZstdLiteralSize = ZstdWindow

// zstdLiteralDecoders keeps idle decoders for [DecompressLiteral].
var zstdLiteralDecoders = make(chan *zstd.Decoder, 4)

// CompressLiteral appends to dst the zstd frame of src, which holds at most
// [MaxZstdLiteralSize] bytes, at the level of [NewZstdWriter]. It borrows
// an encoder from the pool the writers share, so concurrent calls compress
// on as many cores.
func CompressLiteral(dst, src []byte) []byte {
	var enc *zstd.Encoder
	select {
	case enc = <-zstdEncoders:
	default:
		enc = newZstdEncoder()
	}
	dst = enc.EncodeAll(src, dst)
	select {
	case zstdEncoders <- enc:
	default:
	}
	return dst
}

// ErrZstdLiteral is wrapped by the errors of [DecompressLiteral] for a
// frame that is not a valid compressed literal.
var ErrZstdLiteral = errors.New("bad compressed literal")

// DecompressLiteral decompresses frame into dst, whose capacity must be at
// least size, and returns the bytes. The frame must hold exactly size
// bytes, 1 to [MaxZstdLiteralSize]: the decoder stops as soon as it would
// produce more, so a hostile frame costs at most that much memory.
func DecompressLiteral(dst, frame []byte, size int) ([]byte, error) {
	if size < 1 || size > MaxZstdLiteralSize {
		return nil, fmt.Errorf("%w: size %d, want 1 to %d", ErrZstdLiteral, size, MaxZstdLiteralSize)
	}
	if cap(dst) < size {
		return nil, fmt.Errorf("decompress literal: buffer of %d bytes for %d", cap(dst), size)
	}
	var dec *zstd.Decoder
	select {
	case dec = <-zstdLiteralDecoders:
	default:
		var err error
		dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxZstdLiteralSize), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			panic(fmt.Sprintf("engine: zstd decoder options: %v", err))
		}
	}
	out, err := dec.DecodeAll(frame, dst[:0])
	select {
	case zstdLiteralDecoders <- dec:
	default:
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrZstdLiteral, err)
	case len(out) != size:
		return nil, fmt.Errorf("%w: frame holds %d bytes, declared %d", ErrZstdLiteral, len(out), size)
	}
	return out, nil
}
