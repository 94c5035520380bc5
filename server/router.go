package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// tenant is one configured tenant and the Server over its root.
type tenant struct {
	cfg Tenant
	srv *Server
}

// Router serves many tenants from one handler: every SyncService RPC must
// authenticate (see [Config]), and runs on the [Server] of the tenant its
// credentials name, which only sees that tenant's root. Build it with
// [NewRouter], serve [Router.Handler], and [Router.Close] it when done. It
// is safe for concurrent use.
//
// Isolation rests on two facts: each tenant's Server holds its own
// [os.Root], content index and statistics, so no RPC can reach another
// tree, and the tenant comes only from the credentials, never from the
// request's messages.
type Router struct {
	tenants []*tenant
	handler http.Handler
}

var _ dirsyncv1connect.SyncServiceHandler = (*Router)(nil)

// NewRouter validates cfg and opens a [Server] over each tenant's root,
// which must exist, with opts (whose Name it sets to the tenant's name, so
// that Status reports the name and never a path). It hashes every tree
// before it returns, as [New] does.
func NewRouter(cfg Config, opts Options) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Router{}
	for _, tc := range cfg.Tenants {
		o := opts
		o.Name = tc.Name
		o.AllowSetid = tc.AllowSetid
		o.AllowDevices = tc.AllowDevices
		o.Logger = log.With("tenant", tc.Name)
		srv, err := New(tc.Root, o)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("tenant %q: %w", tc.Name, err)
		}
		r.tenants = append(r.tenants, &tenant{cfg: tc, srv: srv})
	}
	maxMsg := opts.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageBytes
	}
	auth := newAuthenticator(r.tenants, log)
	r.handler = withClientCert(auth.wrap(newMux(r, maxMsg, newMemBudget(memoryBytes(opts)), opts.Metrics)))
	return r, nil
}

// Handler returns the HTTP handler that serves the SyncService to
// authenticated tenants, and gRPC reflection and health checking to
// anyone. It needs HTTP/2 for the Upload stream: serve it over TLS or
// h2c. With TLS and verified client certificates, a certificate's common
// name can name a tenant.
func (r *Router) Handler() http.Handler {
	return r.handler
}

// Close closes every tenant's Server. RPCs still running fail; stop the
// HTTP server first.
func (r *Router) Close() error {
	var errs []error
	for _, t := range r.tenants {
		if err := t.srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", t.cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

// server returns the Server of the tenant the authenticator put in ctx.
// Without one the RPC did not pass through the authenticator, which is a
// bug; refusing is the safe answer.
func (r *Router) server(ctx context.Context) (*Server, error) {
	t, ok := tenantFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("no tenant"))
	}
	return t.srv, nil
}

// Status reports on the caller's tenant only.
func (r *Router) Status(ctx context.Context, req *connect.Request[dirsyncv1.StatusRequest]) (*connect.Response[dirsyncv1.StatusResponse], error) {
	s, err := r.server(ctx)
	if err != nil {
		return nil, err
	}
	return s.Status(ctx, req)
}

// GetManifest streams the caller's tenant's tree.
func (r *Router) GetManifest(ctx context.Context, req *connect.Request[dirsyncv1.GetManifestRequest], stream *connect.ServerStream[dirsyncv1.GetManifestResponse]) error {
	s, err := r.server(ctx)
	if err != nil {
		return err
	}
	return s.GetManifest(ctx, req, stream)
}

// ApplyChanges applies changes to the caller's tenant's tree.
func (r *Router) ApplyChanges(ctx context.Context, req *connect.Request[dirsyncv1.ApplyChangesRequest]) (*connect.Response[dirsyncv1.ApplyChangesResponse], error) {
	s, err := r.server(ctx)
	if err != nil {
		return nil, err
	}
	return s.ApplyChanges(ctx, req)
}

// GetSignature signs a file of the caller's tenant's tree.
func (r *Router) GetSignature(ctx context.Context, req *connect.Request[dirsyncv1.GetSignatureRequest], stream *connect.ServerStream[dirsyncv1.GetSignatureResponse]) error {
	s, err := r.server(ctx)
	if err != nil {
		return err
	}
	return s.GetSignature(ctx, req, stream)
}

// Upload writes files into the caller's tenant's tree.
func (r *Router) Upload(ctx context.Context, stream *connect.BidiStream[dirsyncv1.UploadRequest, dirsyncv1.UploadResponse]) error {
	s, err := r.server(ctx)
	if err != nil {
		return err
	}
	return s.Upload(ctx, stream)
}

// GetPartial reports a kept partial upload in the caller's tenant's tree.
func (r *Router) GetPartial(ctx context.Context, req *connect.Request[dirsyncv1.GetPartialRequest]) (*connect.Response[dirsyncv1.GetPartialResponse], error) {
	s, err := r.server(ctx)
	if err != nil {
		return nil, err
	}
	return s.GetPartial(ctx, req)
}

// WatchChanges streams the changes to the caller's tenant's tree.
func (r *Router) WatchChanges(ctx context.Context, req *connect.Request[dirsyncv1.WatchChangesRequest], stream *connect.ServerStream[dirsyncv1.WatchChangesResponse]) error {
	s, err := r.server(ctx)
	if err != nil {
		return err
	}
	return s.WatchChanges(ctx, req, stream)
}

// StopWatches ends every tenant's WatchChanges streams; see
// [Server.StopWatches].
func (r *Router) StopWatches() {
	for _, t := range r.tenants {
		t.srv.StopWatches()
	}
}
