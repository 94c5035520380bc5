package engine

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// ErrInvalidPath reports a path that is not in the canonical wire form
// described by [ValidatePath].
var ErrInvalidPath = errors.New("invalid path")

// Limits on paths, the same as Linux's PATH_MAX and NAME_MAX. A peer's path
// longer than these is rejected before it reaches the file system.
const (
	// MaxPathLength is the longest path, in bytes, that ValidatePath accepts.
	MaxPathLength = 4096
	// MaxNameLength is the longest path component, in bytes.
	MaxNameLength = 255
)

// ValidatePath reports whether p is a canonical relative path as dirsync
// sends it on the wire: non-empty, slash-separated, relative, with no
// empty, "." or ".." components and no NUL, at most [MaxPathLength] bytes
// long, and with no component longer than [MaxNameLength]. Any other byte
// is allowed, as Linux allows it in a name: a backslash, which Windows
// tools leave in names, and bytes that are not UTF-8, as in the Latin-1
// names of old archives ([WirePath] carries those). On Windows, where a
// backslash separates components, it is refused. A valid p satisfies
// path.Clean(p) == p and filepath.IsLocal(p). The error wraps
// [ErrInvalidPath] and names the problem and the path, quoted and
// truncated.
func ValidatePath(p string) error {
	if reason := pathProblem(p); reason != "" {
		return fmt.Errorf("%w %s: %s", ErrInvalidPath, quotePath(p), reason)
	}
	return nil
}

// backslashSeparates reports whether the file system takes a backslash
// for a separator, so that it cannot be part of a name.
const backslashSeparates = runtime.GOOS == "windows"

// pathProblem returns why p is invalid, or "" if it is valid.
func pathProblem(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > MaxPathLength:
		return fmt.Sprintf("longer than %d bytes", MaxPathLength)
	case strings.IndexByte(p, 0) >= 0:
		return "contains NUL"
	case backslashSeparates && strings.IndexByte(p, '\\') >= 0:
		return "contains a backslash"
	case p[0] == '/':
		return "absolute"
	}
	for name := range strings.SplitSeq(p, "/") {
		switch {
		case name == "":
			return "empty component"
		case name == "." || name == "..":
			return fmt.Sprintf("%q component", name)
		case len(name) > MaxNameLength:
			return fmt.Sprintf("component longer than %d bytes", MaxNameLength)
		}
	}
	return ""
}

// quotePath quotes p for an error message, cut to a readable length.
func quotePath(p string) string {
	const limit = 64
	if len(p) > limit {
		return fmt.Sprintf("%q...", p[:limit])
	}
	return fmt.Sprintf("%q", p)
}

// ParentPath returns the path of p's parent directory, or "" (the root) for
// a top-level path: ParentPath("a/b/c") is "a/b" and ParentPath("a") is "".
func ParentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// IsWithin reports whether p is dir or lies below it, comparing whole
// components: "a/b" is within "a" but "a-b" is not. Every path is within "",
// the root.
func IsWithin(p, dir string) bool {
	if dir == "" || p == dir {
		return true
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// depth returns the number of components of a non-empty path.
func depth(p string) int {
	return strings.Count(p, "/") + 1
}
