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
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// readProcedures are the RPCs a read-only tenant may call: those the
// proto marks idempotency_level = NO_SIDE_EFFECTS, so that a new RPC is
// classified where it is declared rather than in a list kept by hand.
var readProcedures = procedures(dirsyncv1.File_dirsync_v1_sync_proto.Services(),
	func(md protoreflect.MethodDescriptor) bool {
		opts, ok := md.Options().(*descriptorpb.MethodOptions)
		return ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
	})

// syncServicePrefix starts the URL path of every SyncService procedure.
const syncServicePrefix = "/" + dirsyncv1connect.SyncServiceName + "/"

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

// authenticator is HTTP middleware in front of Connect that names the
// tenant of every SyncService request, from its bearer token or else from
// its verified client certificate, enforces read-only tenants, and stores
// the tenant in the context for the [Router]. It decides on the headers
// alone: a request it refuses is answered before a byte of its body is
// read, so a stranger cannot make the server decompress, buffer or
// unmarshal anything. It is safe for concurrent use: its maps are never
// written after it is built.
//
// Only the SHA-256 hashes of tokens are kept in memory, never the tokens.
// A presented token is hashed and compared with every known hash in
// constant time, so neither the comparison nor the number of comparisons
// depends on how much of a valid token a caller has guessed.
type authenticator struct {
	tokens []tokenHash
	byCN   map[string]*tenant
	log    *slog.Logger
	errs   *connect.ErrorWriter
}

// tokenHash is the SHA-256 of one accepted token and the tenant it names.
type tokenHash struct {
	sum    [sha256.Size]byte
	tenant *tenant
}

// newAuthenticator indexes the credentials of tenants, which
// [Config.Validate] has checked to be unique.
func newAuthenticator(tenants []*tenant, log *slog.Logger) *authenticator {
	a := &authenticator{byCN: map[string]*tenant{}, log: log, errs: connect.NewErrorWriter()}
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

// wrap returns next behind the authenticator. Requests outside the
// SyncService (health checking, reflection, unknown paths) pass as they
// are; a refused SyncService request gets its Connect error in the
// framing of its protocol (Connect, gRPC or gRPC-Web), and next never
// sees it.
func (a *authenticator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, syncServicePrefix) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, err := a.authenticate(r.Context(), r.Header, r.URL.Path, r.RemoteAddr)
		if err != nil {
			if werr := a.errs.Write(w, r, err); werr != nil {
				a.log.Debug("write refusal", "peer", r.RemoteAddr, "error", werr)
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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
