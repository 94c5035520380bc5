package client

import (
	"context"
	"net"
	"strings"

	"connectrpc.com/connect"
)

// bearerInterceptor adds "authorization: Bearer <token>" to every RPC the
// client makes. It is safe for concurrent use.
type bearerInterceptor struct {
	value string // "Bearer " + token; never logged
}

var _ connect.Interceptor = bearerInterceptor{}

// bearer returns an interceptor that sends token as a bearer token.
func bearer(token string) bearerInterceptor {
	return bearerInterceptor{value: "Bearer " + token}
}

// WrapUnary sets the header on unary requests.
func (b bearerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			req.Header().Set("Authorization", b.value)
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient sets the header on streams the client opens.
func (b bearerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", b.value)
		return conn
	}
}

// WrapStreamingHandler leaves handlers alone.
func (b bearerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// isLoopback reports whether host names the local machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
