package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"connectrpc.com/connect"
)

// ErrUnavailable is wrapped by the errors of a pass that could not reach the
// server, or lost it halfway: a retry later may succeed.
var ErrUnavailable = errors.New("server unavailable")

// ErrAuth is wrapped by the errors of a pass the server refused to serve,
// or whose server could not be trusted: the token or client certificate
// was missing or not accepted, the tenant is read-only, or the server's
// TLS certificate could not be verified. Retrying cannot help, so neither
// SyncOnce nor Watch retries it.
var ErrAuth = errors.New("authentication failed")

// errChanged reports a local file that changed while it was being read. It
// is retried on the next pass.
var errChanged = errors.New("file changed while being read")

// transient reports whether err is a failure of the connection rather than
// of the request: the server is down, restarting, unreachable or too slow,
// so the same request may succeed later. A cancelled context is not
// transient: it means the caller gave up.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || authFailed(err) {
		return false
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		return true
	case connect.CodeUnknown, connect.CodeCanceled:
		// Transport failures that Connect did not classify, or reported
		// as a cancellation of the call that the connection's end caused
		// (a bidirectional stream whose writes meet a reset).
		var netErr net.Error
		return errors.As(err, &netErr) ||
			errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, syscall.ECONNRESET) ||
			errors.Is(err, syscall.EPIPE)
	}
	return false
}

// authFailed reports whether err means that the server refused the
// client's credentials or that the TLS handshake failed on a certificate,
// either side's: a retry would fail the same way.
func authFailed(err error) bool {
	if err == nil {
		return false
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return true
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verifyError *tls.CertificateVerificationError
		alert       tls.AlertError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verifyError) || errors.As(err, &alert)
}
