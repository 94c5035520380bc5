package client

import (
	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// compressMinBytes is the smallest message worth compressing; smaller ones
// gain nothing and still pay the codec's setup.
const compressMinBytes = 512

// compressionOptions returns the Connect options for the codec name. It
// always registers zstd, which Connect prefers for the answers, being
// registered last; with gzip or zstd it registers gzip too (so that
// answers can be read whatever the server picks) and compresses requests
// with name. With "none" requests go uncompressed, and the answers may
// only come in zstd, not in Connect's default gzip: on loopback, gzipping
// the answers of an initial sync of 20,000 small files cost the server
// about 1% of its CPU time and the client as much to inflate them (perf),
// while zstd costs less and still shrinks the listing of the benchmark's
// 20,000-file tree: a no-op pass took 455 KiB on the wire (gzip answers:
// 484 KiB; none: 1.5 MiB).
func compressionOptions(name string) []connect.ClientOption {
	zstd := connect.WithAcceptCompression(engine.CompressionZstd,
		func() connect.Decompressor { return engine.NewZstdReader() },
		func() connect.Compressor { return engine.NewZstdWriter() })
	if name == engine.CompressionNone {
		return []connect.ClientOption{connect.WithAcceptCompression(engine.CompressionGzip, nil, nil), zstd}
	}
	return []connect.ClientOption{
		connect.WithAcceptCompression(engine.CompressionGzip,
			func() connect.Decompressor { return engine.NewGzipReader() },
			func() connect.Compressor { return engine.NewGzipWriter() }),
		zstd,
		connect.WithSendCompression(name),
		connect.WithCompressMinBytes(compressMinBytes),
	}
}

// uncompressedUploadOptions returns the Connect options for Upload streams
// whose requests go uncompressed: nothing is offered for the answers
// either, so they come back as they are. An answer to an upload is a path
// and a few counts per file, and the server answers files in groups: on
// an initial sync of 20,000 small files over loopback, zstd on those
// answers was about 7% of the server's user CPU time (pprof, 3 runs) to
// save about 0.3% of the bytes on the wire. A stream whose requests are
// compressed gets its answers in the same codec, as Connect answers in
// the codec of the request.
func uncompressedUploadOptions() []connect.ClientOption {
	return []connect.ClientOption{connect.WithAcceptCompression(engine.CompressionGzip, nil, nil)}
}
