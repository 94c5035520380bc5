package server

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// compressMinBytes is the smallest response message the server compresses
// when the client accepts compression; smaller ones are not worth it.
const compressMinBytes = 1 << 10

// probeMaxBytes is the largest request message, after decompression, of
// the health checking and reflection services, which need no credentials:
// their requests name a service, file or symbol.
const probeMaxBytes = 64 << 10

// newHandler builds the mux behind [Server.Handler].
func (s *Server) newHandler() http.Handler {
	return newMux(s, s.maxMsgBytes, s.budget, s.metrics)
}

// newMux serves svc, together with gRPC reflection and health checking,
// which need no credentials, behind a [meter] of budget. Every handler
// bounds its messages after decompression: svc's to maxMsgBytes, the
// others' to probeMaxBytes. metrics, when not nil, counts svc's RPCs.
func newMux(svc dirsyncv1connect.SyncServiceHandler, maxMsgBytes int, budget *memBudget, metrics *Metrics) http.Handler {
	opts := append([]connect.HandlerOption{
		connect.WithCodec(uploadCodec{}),
		connect.WithInterceptors(metrics.interceptor()),
		connect.WithCompressMinBytes(compressMinBytes),
	}, compressionOptions(maxMsgBytes)...)
	mux := http.NewServeMux()
	mux.Handle(dirsyncv1connect.NewSyncServiceHandler(svc, opts...))

	probe := compressionOptions(probeMaxBytes)
	reflector := grpcreflect.NewStaticReflector(dirsyncv1connect.SyncServiceName, grpchealth.HealthV1ServiceName)
	reflectV1, reflectV1Handler := grpcreflect.NewHandlerV1(reflector, probe...)
	reflectV1Alpha, reflectV1AlphaHandler := grpcreflect.NewHandlerV1Alpha(reflector, probe...)
	mux.Handle(reflectV1, reflectV1Handler)
	mux.Handle(reflectV1Alpha, reflectV1AlphaHandler)
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(dirsyncv1connect.SyncServiceName), probe...))

	m := &meter{
		budget: budget,
		sizer:  newSizer(),
		errs:   connect.NewErrorWriter(),
		limit: func(path string) int64 {
			if strings.HasPrefix(path, syncServicePrefix) {
				return int64(maxMsgBytes)
			}
			return probeMaxBytes
		},
		clientStreams: map[string]int64{
			dirsyncv1connect.SyncServiceUploadProcedure: maxKeptUploadBuffer,
			reflectV1 + "ServerReflectionInfo":          0,
			reflectV1Alpha + "ServerReflectionInfo":     0,
		},
	}
	// Any other client stream of the service keeps nothing between
	// messages.
	for proc := range procedures(dirsyncv1.File_dirsync_v1_sync_proto.Services(), protoreflect.MethodDescriptor.IsStreamingClient) {
		if _, ok := m.clientStreams[proc]; !ok {
			m.clientStreams[proc] = 0
		}
	}
	return m.wrap(mux)
}
