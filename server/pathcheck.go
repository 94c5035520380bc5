package server

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/dirsync/dirsync/engine"
)

// checkPath validates rel, a path from the peer: it must be canonical (see
// [engine.ValidatePath]) and no component may use the name prefix of the
// server's temporary files, which the peer may neither change nor read.
func checkPath(rel string) error {
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

// checkParents walks the ancestors of rel from the root, one at a time.
// It fails with FailedPrecondition if one of them is a symlink or not a
// directory, so that no write ever goes through a link. It reports whether
// an ancestor is missing; those below it are then missing too.
func (s *Server) checkParents(rel string) (missing bool, err error) {
	d, err := s.openDir(rel, engine.ParentPath(rel), false)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	d.Close()
	return false, nil
}
