package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"
)

// TestClassifyFileSystemErrors checks that the file system's refusals
// reach the peer with a code and a message naming the cause and the
// relative path, and never the server's paths.
func TestClassifyFileSystemErrors(t *testing.T) {
	const secret = "/srv/secret/root"
	wrap := func(errno syscall.Errno) error {
		return fmt.Errorf("create temporary file: %w", &fs.PathError{Op: "openat", Path: secret + "/a/.dirsync-tmp-1", Err: errno})
	}
	tests := []struct {
		name     string
		op, rel  string
		err      error
		code     connect.Code
		contains string
	}{
		{"permission denied", "upload", "a/b", wrap(syscall.EACCES), connect.CodeFailedPrecondition, `upload: server cannot write "a/b": permission denied`},
		{"not permitted", "make directory", "d", wrap(syscall.EPERM), connect.CodeFailedPrecondition, `server cannot write "d": operation not permitted`},
		{"read-only", "delete", "x/y", wrap(syscall.EROFS), connect.CodeFailedPrecondition, `server cannot write "x/y": read-only file system`},
		{"disk full", "upload", "big", wrap(syscall.ENOSPC), connect.CodeResourceExhausted, `server cannot write "big": no space left on device`},
		{"quota", "copy content", "c", wrap(syscall.EDQUOT), connect.CodeResourceExhausted, `server cannot write "c": disk quota exceeded`},
		{"read refused", "get signature", "s", wrap(syscall.EACCES), connect.CodeFailedPrecondition, `server cannot read "s": permission denied`},
		{"root refused", "get manifest", "", wrap(syscall.EACCES), connect.CodeFailedPrecondition, `server cannot read its root: permission denied`},
		{"not regular", "get signature", "s", refuse(errNotRegular, "path %q: not a regular file on the server", "s"), connect.CodeFailedPrecondition, "not a regular file"},
		{"blocked parent", "upload", "l/f", refuse(errBlockedParent, "path %q: parent %q is a symlink on the server; delete it first", "l/f", "l"), connect.CodeFailedPrecondition, `parent "l" is a symlink`},
		{"changed", "upload", "f", fmt.Errorf("hash: %w", refuse(errChangedMeanwhile, "path %q: changed on the server while being read", "f")), connect.CodeAborted, "changed on the server"},
		{"no content", "copy content", "f", refuse(errNoContent, "copy content to %q: no content with that sha256 on the server", "f"), connect.CodeNotFound, "no content"},
		{"invalid", "upload", "f", invalidf("upload of %q: bad", "f"), connect.CodeInvalidArgument, "bad"},
		{"other errno", "upload", "f", wrap(syscall.EIO), connect.CodeInternal, `upload "f": internal server error`},
		{"plain", "upload", "f", errors.New("boom " + secret), connect.CodeInternal, "internal server error"},
	}
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := s.classify(tt.op, tt.rel, tt.err)
			if code != tt.code || !strings.Contains(msg, tt.contains) {
				t.Errorf("classify(%q, %q, %v) = %v, %q; want %v and a message containing %q", tt.op, tt.rel, tt.err, code, msg, tt.code, tt.contains)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("message %q contains the server's path", msg)
			}
		})
	}
}

func TestTextOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"répertoire 日本", "répertoire 日本"},
		{"lstat caf\xe9: denied", `lstat caf\xe9: denied`},
		{"\xff\xfe", `\xff\xfe`},
		{"truncated \xe6\x97", `truncated \xe6\x97`},
	}
	for _, tt := range tests {
		if got := textOf(tt.in); got != tt.want || !utf8.ValidString(got) {
			t.Errorf("textOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
