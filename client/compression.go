package client

import (
	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// compressMinBytes is the smallest message worth compressing; smaller ones
// gain nothing and still pay the codec's setup.
const compressMinBytes = 512

// compressionOptions returns the Connect options for the codec name. With
// gzip or zstd it registers both, so that compressed responses can be read
// whatever the server picks, preferring zstd, so that a server answering a
// request too small to compress picks it rather than Connect's default
// gzip; and it compresses requests with name. With "none" it registers
// neither and removes Connect's default gzip, so that the server answers
// uncompressed too: on loopback, gzipping the answers to an initial sync
// of 20,000 small files cost the server about 1% of its CPU time, and the
// client as much to inflate them (perf).
func compressionOptions(name string) []connect.ClientOption {
	if name == engine.CompressionNone {
		return []connect.ClientOption{connect.WithAcceptCompression(engine.CompressionGzip, nil, nil)}
	}
	// Connect prefers the codec registered last.
	return []connect.ClientOption{
		connect.WithAcceptCompression(engine.CompressionGzip,
			func() connect.Decompressor { return engine.NewGzipReader() },
			func() connect.Compressor { return engine.NewGzipWriter() }),
		connect.WithAcceptCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdWriter() }),
		connect.WithSendCompression(name),
		connect.WithCompressMinBytes(compressMinBytes),
	}
}
