package client

import (
	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// compressMinBytes is the smallest message worth compressing; smaller ones
// gain nothing and still pay the codec's setup.
const compressMinBytes = 512

// compressionOptions returns the Connect options that register gzip and zstd
// (so that compressed responses can be read whatever is sent) and compress
// requests with name, unless name is "none".
func compressionOptions(name string) []connect.ClientOption {
	opts := []connect.ClientOption{
		connect.WithAcceptCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdWriter() }),
		connect.WithAcceptCompression(engine.CompressionGzip,
			func() connect.Decompressor { return engine.NewGzipReader() },
			func() connect.Compressor { return engine.NewGzipWriter() }),
	}
	if name != engine.CompressionNone {
		opts = append(opts, connect.WithSendCompression(name), connect.WithCompressMinBytes(compressMinBytes))
	}
	return opts
}
