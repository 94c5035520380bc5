package server

import (
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/dirsync/dirsync/engine"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// compressMinBytes is the smallest response message the server compresses
// when the client accepts compression; smaller ones are not worth it.
const compressMinBytes = 1 << 10

// newHandler builds the mux behind [Server.Handler].
func (s *Server) newHandler() http.Handler {
	return newMux(s, s.maxMsgBytes)
}

// newMux serves svc with the given handler options added, together with
// gRPC reflection and health checking, which need no credentials.
func newMux(svc dirsyncv1connect.SyncServiceHandler, maxMsgBytes int, extra ...connect.HandlerOption) http.Handler {
	opts := append([]connect.HandlerOption{
		connect.WithReadMaxBytes(maxMsgBytes),
		connect.WithCodec(uploadCodec{}),
		connect.WithCompressMinBytes(compressMinBytes),
		connect.WithCompression(engine.CompressionGzip,
			func() connect.Decompressor { return engine.NewGzipReader() },
			func() connect.Compressor { return engine.NewGzipWriter() }),
		connect.WithCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdAnswerWriter() }),
	}, extra...)
	mux := http.NewServeMux()
	mux.Handle(dirsyncv1connect.NewSyncServiceHandler(svc, opts...))

	reflector := grpcreflect.NewStaticReflector(dirsyncv1connect.SyncServiceName, grpchealth.HealthV1ServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(dirsyncv1connect.SyncServiceName)))
	return mux
}
