package client

import (
	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// compressMinBytes is the smallest message worth compressing; smaller ones
// gain nothing and still pay the codec's setup.
const compressMinBytes = 512

// compressionOptions returns the Connect options for the codec name. With
// "none", nothing is compressed either way: the client does not even
// accept compressed responses (Connect accepts gzip by default), since
// a user who turns compression off has a fast link and would rather spend
// the CPU elsewhere; on 20,000 small files over loopback, the server's
// gzip of its answers and manifests was about 1.5% of its CPU. Otherwise
// requests are compressed with name, and gzip and zstd responses are
// both read, whatever the server picks.
func compressionOptions(name string) []connect.ClientOption {
	if name == engine.CompressionNone {
		return []connect.ClientOption{connect.WithAcceptCompression(engine.CompressionGzip, nil, nil)}
	}
	return []connect.ClientOption{
		connect.WithAcceptCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdWriter() }),
		connect.WithAcceptCompression(engine.CompressionGzip,
			func() connect.Decompressor { return engine.NewGzipReader() },
			func() connect.Compressor { return engine.NewGzipWriter() }),
		connect.WithSendCompression(name),
		connect.WithCompressMinBytes(compressMinBytes),
	}
}
