package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// readProcedures are the RPCs a read-only tenant may call.
var readProcedures = map[string]bool{
	dirsyncv1connect.SyncServiceStatusProcedure:       true,
	dirsyncv1connect.SyncServiceGetManifestProcedure:  true,
	dirsyncv1connect.SyncServiceGetSignatureProcedure: true,
	dirsyncv1connect.SyncServiceWatchChangesProcedure: true,
}

// tenantKey is the context key under which the authenticator stores the
// *tenant an RPC runs for.
type tenantKey struct{}

// certNameKey is the context key under which [withClientCert] stores the
// common name of the client's verified TLS certificate.
type certNameKey struct{}

// tenantFrom returns the tenant the authenticator stored in ctx.
func tenantFrom(ctx context.Context) (*tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(*tenant)
	return t, ok
}

// withClientCert wraps h so that the common name of a client certificate
// that the TLS stack verified against the client CA reaches the
// authenticator through the request context. Unverified certificates
// (PeerCertificates without VerifiedChains) are ignored.
func withClientCert(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			if cn := r.TLS.VerifiedChains[0][0].Subject.CommonName; cn != "" {
				r = r.WithContext(context.WithValue(r.Context(), certNameKey{}, cn))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// authenticator is a Connect interceptor that names the tenant of every
// SyncService RPC, from its bearer token or else from its verified client
// certificate, enforces read-only tenants, and stores the tenant in the
// context for the [Router]. It is safe for concurrent use: its maps are
// never written after it is built.
//
// Only the SHA-256 hashes of tokens are kept in memory, never the tokens.
// A presented token is hashed and compared with every known hash in
// constant time, so neither the comparison nor the number of comparisons
// depends on how much of a valid token a caller has guessed.
type authenticator struct {
	tokens []tokenHash
	byCN   map[string]*tenant
	log    *slog.Logger
}

// tokenHash is the SHA-256 of one accepted token and the tenant it names.
type tokenHash struct {
	sum    [sha256.Size]byte
	tenant *tenant
}

var _ connect.Interceptor = (*authenticator)(nil)

// newAuthenticator indexes the credentials of tenants, which
// [Config.Validate] has checked to be unique.
func newAuthenticator(tenants []*tenant, log *slog.Logger) *authenticator {
	a := &authenticator{byCN: map[string]*tenant{}, log: log}
	for _, t := range tenants {
		for _, h := range t.cfg.TokenHashes {
			a.tokens = append(a.tokens, tokenHash{sum: h, tenant: t})
		}
		for _, cn := range t.cfg.ClientCertCNs {
			a.byCN[cn] = t
		}
	}
	return a
}

// WrapUnary authenticates unary RPCs.
func (a *authenticator) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := a.authenticate(ctx, req.Header(), req.Spec().Procedure, req.Peer().Addr)
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves client streams alone: the authenticator is
// for handlers only.
func (a *authenticator) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler authenticates streaming RPCs before the handler
// reads any message.
func (a *authenticator) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.RequestHeader(), conn.Spec().Procedure, conn.Peer().Addr)
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// authenticate names the tenant of one RPC and returns ctx carrying it.
// No credential at all is Unauthenticated; a credential that names no
// tenant, or a write by a read-only tenant, is PermissionDenied. Failures
// are logged without the token.
func (a *authenticator) authenticate(ctx context.Context, h http.Header, procedure, peer string) (context.Context, error) {
	t, err := a.identify(ctx, h)
	if err == nil && t.cfg.ReadOnly && !readProcedures[procedure] {
		err = connect.NewError(connect.CodePermissionDenied, errors.New("tenant is read-only"))
	}
	if err != nil {
		attrs := []any{"procedure", procedure, "peer", peer, "code", connect.CodeOf(err).String(), "reason", errorMessage(err)}
		if t != nil {
			attrs = append(attrs, "tenant", t.cfg.Name)
		}
		a.log.Warn("request refused", attrs...)
		return ctx, err
	}
	return context.WithValue(ctx, tenantKey{}, t), nil
}

// identify returns the tenant named by the bearer token in h or, when
// there is none, by the verified client certificate recorded in ctx.
func (a *authenticator) identify(ctx context.Context, h http.Header) (*tenant, error) {
	if v := h.Get("Authorization"); v != "" {
		scheme, token, _ := strings.Cut(v, " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, connect.NewError(connect.CodeUnauthenticated,
				errors.New("authorization header is not a bearer token"))
		}
		t := a.tenantOfToken(token)
		if t == nil {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("token not accepted"))
		}
		return t, nil
	}
	if cn, ok := ctx.Value(certNameKey{}).(string); ok {
		t, ok := a.byCN[cn]
		if !ok {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("client certificate names no tenant"))
		}
		return t, nil
	}
	return nil, connect.NewError(connect.CodeUnauthenticated,
		errors.New("no credentials: send the header \"authorization: Bearer <token>\""))
}

// tenantOfToken returns the tenant whose token is token, or nil. It
// compares the token's hash with every known hash in constant time and
// never stops early.
func (a *authenticator) tenantOfToken(token string) *tenant {
	sum := sha256.Sum256([]byte(token))
	var found *tenant
	for _, th := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], th.sum[:]) == 1 {
			found = th.tenant
		}
	}
	return found
}

// errorMessage returns the message of a Connect error without its code.
func errorMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
