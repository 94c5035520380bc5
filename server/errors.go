package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"syscall"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// errBaseChanged reports that the server's copy of a file no longer has the
// SHA-256 a delta was computed against.
var errBaseChanged = errors.New("base changed")

// requestError is a failure the server detected itself, with the Connect
// code that describes it. Its message names the problem and relative paths
// only, so it is safe to send to the peer.
type requestError struct {
	code connect.Code
	msg  string
}

// Error returns the message.
func (e *requestError) Error() string { return e.msg }

// failf returns a *requestError with the given code and formatted message.
// The message must not contain server paths.
func failf(code connect.Code, format string, args ...any) error {
	return &requestError{code: code, msg: fmt.Sprintf(format, args...)}
}

// invalidf returns an InvalidArgument *requestError.
func invalidf(format string, args ...any) error {
	return failf(connect.CodeInvalidArgument, format, args...)
}

// classify maps err, which happened while doing op on the relative path
// rel, to a Connect code and a message that is safe to send to the peer.
// It is the one place where the server decides codes. Errors it cannot
// attribute to the request (code Internal) are logged in full on the
// server and reported to the peer only generically.
func (s *Server) classify(op, rel string, err error) (connect.Code, string) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.code, re.msg
	case errors.Is(err, engine.ErrInvalidPath),
		errors.Is(err, engine.ErrInvalidOp),
		errors.Is(err, engine.ErrBlockOutOfRange),
		errors.Is(err, engine.ErrLiteralTooLarge),
		errors.Is(err, engine.ErrInvalidSignature):
		return connect.CodeInvalidArgument, fmt.Sprintf("%s %q: %v", op, rel, err)
	case errors.Is(err, errPartialGone):
		return connect.CodeAborted, fmt.Sprintf("%s %q: the kept partial upload is gone, send the file whole", op, rel)
	case errors.Is(err, errBaseChanged):
		return connect.CodeAborted, fmt.Sprintf("%s %q: base changed, send the file again", op, rel)
	case errors.Is(err, engine.ErrChecksumMismatch):
		return connect.CodeAborted, fmt.Sprintf("%s %q: %v", op, rel, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return connect.CodeResourceExhausted, fmt.Sprintf("%s %q: disk full, no space left on the server", op, rel)
	case errors.Is(err, fs.ErrNotExist):
		return connect.CodeNotFound, fmt.Sprintf("%s %q: not found", op, rel)
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, fmt.Sprintf("%s %q: canceled", op, rel)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, fmt.Sprintf("%s %q: deadline exceeded", op, rel)
	}
	s.log.Error("internal error", slog.String("op", op), slog.String("path", rel), slog.Any("error", err))
	return connect.CodeInternal, fmt.Sprintf("%s %q: internal server error", op, rel)
}

// connectError converts err from doing op on rel into a *connect.Error,
// using [Server.classify]. A nil err gives nil.
func (s *Server) connectError(op, rel string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code, msg := s.classify(op, rel, err)
	return connect.NewError(code, errors.New(msg))
}

// resultCode converts err from doing op on rel into the numeric code and
// message of a per-item result (ChangeResult, UploadResponse). A nil err
// gives code 0 and no message.
func (s *Server) resultCode(op, rel string, err error) (uint32, string) {
	if err == nil {
		return 0, ""
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return uint32(ce.Code()), ce.Message()
	}
	code, msg := s.classify(op, rel, err)
	return uint32(code), msg
}
