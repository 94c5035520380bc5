package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// The kinds of refusal the server's own checks make, as sentinels that
// [Server.classify] maps to Connect codes. Sites wrap them with
// [refuse], whose message names the problem and relative paths only.
var (
	// errInvalid is bad input from the peer: InvalidArgument.
	errInvalid = errors.New("invalid request")
	// errNotRegular reports a path that is not a regular file on the
	// server where one is needed: FailedPrecondition.
	errNotRegular = errors.New("not a regular file on the server")
	// errBlockedParent reports a parent that is a symlink or not a
	// directory on the server: FailedPrecondition, until the peer
	// deletes it.
	errBlockedParent = errors.New("parent is not a directory on the server")
	// errChangedMeanwhile reports an entry that changed while the server
	// read or opened it: Aborted, try again.
	errChangedMeanwhile = errors.New("changed on the server meanwhile")
	// errNoContent reports that no file under the root holds a content:
	// NotFound, the normal answer for new content.
	errNoContent = errors.New("no content with that sha256 on the server")
	// errNoLinkTarget reports a make_hardlink whose target is not a
	// regular file under the root: NotFound.
	errNoLinkTarget = errors.New("hard link target is not a regular file on the server")
	// errBaseChanged reports that the server's copy of a file no longer
	// has the SHA-256 a delta was computed against: Aborted.
	errBaseChanged = errors.New("base changed")
	// errDevicesRefused reports a device the server may not make:
	// FailedPrecondition, until it runs as root with devices allowed.
	errDevicesRefused = errors.New("devices not allowed")
)

// refusal is a failure the server detected itself: kind, one of the
// sentinels above, decides its code and msg describes it. msg names
// relative paths only, so it is safe to send to the peer.
type refusal struct {
	kind error
	msg  string
}

// Error returns the message.
func (e *refusal) Error() string { return e.msg }

// Unwrap returns the kind.
func (e *refusal) Unwrap() error { return e.kind }

// refuse returns a *refusal of the given kind with the formatted message,
// which must not contain server paths.
func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// invalidf returns a refusal of kind errInvalid: bad input.
func invalidf(format string, args ...any) error {
	return refuse(errInvalid, format, args...)
}

// requestError is a failure with a Connect code chosen where it was
// detected; only the limits use it. Its message is safe to send.
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

// fsCodes maps the file system's refusals that the operator, not the
// peer, must fix to Connect codes: the peer sees the cause. Permission
// errors are FailedPrecondition, not PermissionDenied, which means the
// caller's credentials were refused and makes clients stop as on a bad
// token.
var fsCodes = map[syscall.Errno]connect.Code{
	syscall.EACCES: connect.CodeFailedPrecondition,
	syscall.EPERM:  connect.CodeFailedPrecondition,
	syscall.EROFS:  connect.CodeFailedPrecondition,
	syscall.ENOSPC: connect.CodeResourceExhausted,
	syscall.EDQUOT: connect.CodeResourceExhausted,
	syscall.EFBIG:  connect.CodeResourceExhausted,
	syscall.EMFILE: connect.CodeResourceExhausted,
	syscall.ENFILE: connect.CodeResourceExhausted,
}

// readOps are the operations that only read the tree; the others write.
var readOps = map[string]bool{"get manifest": true, "get signature": true, "status": true, "get partial": true}

// classify maps err, which happened while doing op on the relative path
// rel, to a Connect code and a message that is safe to send to the peer.
// It is the one place where the server decides codes. Errors it cannot
// attribute to the request or to the state of the server's file system
// (code Internal) are logged in full on the server and reported to the
// peer only generically.
func (s *Server) classify(op, rel string, err error) (connect.Code, string) {
	var (
		rf    *refusal
		re    *requestError
		errno syscall.Errno
	)
	switch {
	case errors.As(err, &rf):
		return refusalCode(rf.kind), rf.msg
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
	case errors.Is(err, fs.ErrNotExist):
		return connect.CodeNotFound, fmt.Sprintf("%s %q: not found", op, rel)
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, fmt.Sprintf("%s %q: canceled", op, rel)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, fmt.Sprintf("%s %q: deadline exceeded", op, rel)
	case errors.As(err, &errno) && fsCodes[errno] != 0:
		// The errno's text only: err itself may hold server paths.
		s.log.Debug("file system refused", slog.String("op", op), slog.String("path", rel), slog.Any("error", err))
		verb := "write"
		if readOps[op] {
			verb = "read"
		}
		what := fmt.Sprintf("%q", rel)
		if rel == "" {
			what = "its root"
		}
		return fsCodes[errno], fmt.Sprintf("%s: server cannot %s %s: %v", op, verb, what, errno)
	}
	s.log.Error("internal error", slog.String("op", op), slog.String("path", rel), slog.Any("error", err))
	return connect.CodeInternal, fmt.Sprintf("%s %q: internal server error", op, rel)
}

// refusalCode returns the Connect code of a refusal of the given kind.
func refusalCode(kind error) connect.Code {
	switch kind {
	case errInvalid:
		return connect.CodeInvalidArgument
	case errNotRegular, errBlockedParent, errDevicesRefused:
		return connect.CodeFailedPrecondition
	case errChangedMeanwhile, errBaseChanged:
		return connect.CodeAborted
	case errNoContent, errNoLinkTarget:
		return connect.CodeNotFound
	}
	return connect.CodeInternal
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
	return connect.NewError(code, errors.New(textOf(msg)))
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
		return uint32(ce.Code()), textOf(ce.Message())
	}
	code, msg := s.classify(op, rel, err)
	return uint32(code), textOf(msg)
}

// textOf makes msg valid UTF-8, as a protobuf string must be, by writing
// each byte that is not part of a UTF-8 character as \xNN, as %q does:
// a message may name a path that is not UTF-8 through an error of the
// file system, which does not quote it.
func textOf(msg string) string {
	if utf8.ValidString(msg) {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, "\\x%02x", msg[i])
		} else {
			b.WriteString(msg[i : i+n])
		}
		i += n
	}
	return b.String()
}
