package server

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// checkWritePath validates rel, a path from the peer that is about to be
// changed: it must be canonical (see [engine.ValidatePath]) and no component
// may use the name prefix of the server's temporary files.
func checkWritePath(rel string) error {
	if err := engine.ValidatePath(rel); err != nil {
		return err
	}
	for name := range strings.SplitSeq(rel, "/") {
		if isTempName(name) {
			return invalidf("path %q: names starting with %q are reserved for the server's temporary files", rel, tempPrefix)
		}
	}
	return nil
}

// checkParents lstats the ancestors of rel through the root, from the top.
// It fails with FailedPrecondition if one of them is a symlink or not a
// directory, so that no write ever goes through a link. It reports whether
// an ancestor is missing; those below it are then missing too.
func (s *Server) checkParents(rel string) (missing bool, err error) {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		dir := rel[:i]
		info, err := s.root.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return true, nil
		case err != nil:
			return false, fmt.Errorf("lstat parent %q: %w", dir, err)
		case info.Mode().Type() == fs.ModeSymlink:
			return false, failf(connect.CodeFailedPrecondition,
				"path %q: parent %q is a symlink on the server; delete it first", rel, dir)
		case !info.IsDir():
			return false, failf(connect.CodeFailedPrecondition,
				"path %q: parent %q is not a directory on the server; delete it first", rel, dir)
		}
	}
	return false, nil
}

// makeParents checks the ancestors of rel like [Server.checkParents] and
// creates the missing ones with mode 0755.
func (s *Server) makeParents(rel string) error {
	missing, err := s.checkParents(rel)
	if err != nil || !missing {
		return err
	}
	if err := s.root.MkdirAll(engine.ParentPath(rel), 0o755); err != nil {
		return fmt.Errorf("create parents of %q: %w", rel, err)
	}
	return nil
}
