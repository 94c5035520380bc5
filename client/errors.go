package client

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"connectrpc.com/connect"
)

// ErrUnavailable is wrapped by the errors of a pass that could not reach the
// server, or lost it halfway: a retry later may succeed.
var ErrUnavailable = errors.New("server unavailable")

// errChanged reports a local file that changed while it was being read. It
// is retried on the next pass.
var errChanged = errors.New("file changed while being read")

// transient reports whether err is a failure of the connection rather than
// of the request: the server is down, restarting, unreachable or too slow,
// so the same request may succeed later. A cancelled context is not
// transient: it means the caller gave up.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		return true
	case connect.CodeUnknown:
		// Transport failures that Connect did not classify.
		var netErr net.Error
		return errors.As(err, &netErr) ||
			errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, syscall.ECONNRESET) ||
			errors.Is(err, syscall.EPIPE)
	}
	return false
}
