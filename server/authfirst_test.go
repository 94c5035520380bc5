package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// rawCodec is a "proto" codec that sends fixed bytes whatever the
// message: it lets a test put garbage on the wire through a real Connect
// client in any protocol.
type rawCodec struct{ payload []byte }

func (rawCodec) Name() string                  { return "proto" }
func (c rawCodec) Marshal(any) ([]byte, error) { return c.payload, nil }
func (rawCodec) Unmarshal([]byte, any) error   { return nil }

// TestUnauthenticatedBodyNotRead sends 512 KiB of 0xff, which is no
// protobuf message, without credentials: the answer must be
// Unauthenticated, which proves the body was refused before it was
// decompressed or unmarshalled (that would be InvalidArgument).
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	env := newTenantEnv(t, nil)
	garbage := bytes.Repeat([]byte{0xff}, 512<<10)
	for _, p := range protocols {
		for _, proc := range []string{dirsyncv1connect.SyncServiceStatusProcedure, dirsyncv1connect.SyncServiceApplyChangesProcedure} {
			t.Run(p.name+proc, func(t *testing.T) {
				opts := append([]connect.ClientOption{connect.WithCodec(rawCodec{garbage})}, p.opts...)
				c := connect.NewClient[dirsyncv1.StatusRequest, dirsyncv1.StatusResponse](env.hs.Client(), env.hs.URL+proc, opts...)
				_, err := c.CallUnary(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{}))
				if connect.CodeOf(err) != connect.CodeUnauthenticated {
					t.Errorf("%s without token: %v, want Unauthenticated", proc, err)
				}
			})
		}
	}
	t.Run("grpc-web", func(t *testing.T) {
		opts := []connect.ClientOption{connect.WithGRPCWeb(), connect.WithCodec(rawCodec{garbage})}
		c := connect.NewClient[dirsyncv1.StatusRequest, dirsyncv1.StatusResponse](env.hs.Client(), env.hs.URL+dirsyncv1connect.SyncServiceStatusProcedure, opts...)
		_, err := c.CallUnary(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("gRPC-Web without token: %v, want Unauthenticated", err)
		}
	})
}

// TestRefusedBodyNeverReaches checks that the handler behind the
// authenticator never sees a refused request.
func TestRefusedBodyNeverReaches(t *testing.T) {
	a := newAuthenticator(nil, slog.New(slog.DiscardHandler))
	reached := false
	h := a.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for _, auth := range []string{"", "Bearer wrong", "Basic x"} {
		req, _ := http.NewRequest(http.MethodPost, "http://x"+dirsyncv1connect.SyncServiceUploadProcedure, bytes.NewReader([]byte{0xff}))
		req.Header.Set("Content-Type", "application/grpc")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		if reached {
			t.Fatalf("authorization %q reached the handler", auth)
		}
		if got := rec.header.Get("Grpc-Status"); got != fmt.Sprint(int(connect.CodeUnauthenticated)) && got != fmt.Sprint(int(connect.CodePermissionDenied)) {
			t.Errorf("authorization %q: grpc-status %q", auth, got)
		}
	}
}

// headerRecorder is a minimal http.ResponseWriter that keeps headers,
// trailers included (gRPC errors without a body are trailers-only, so
// they arrive as headers).
type headerRecorder struct {
	header http.Header
	code   int
}

func (r *headerRecorder) Header() http.Header         { return r.header }
func (r *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }

func TestReadProceduresFromProto(t *testing.T) {
	for _, tc := range []struct {
		proc string
		read bool
	}{
		{dirsyncv1connect.SyncServiceStatusProcedure, true},
		{dirsyncv1connect.SyncServiceGetManifestProcedure, true},
		{dirsyncv1connect.SyncServiceGetSignatureProcedure, true},
		{dirsyncv1connect.SyncServiceGetPartialProcedure, true},
		{dirsyncv1connect.SyncServiceApplyChangesProcedure, false},
		{dirsyncv1connect.SyncServiceUploadProcedure, false},
	} {
		if readProcedures[tc.proc] != tc.read {
			t.Errorf("readProcedures[%s] = %v, want %v", tc.proc, readProcedures[tc.proc], tc.read)
		}
	}
}
