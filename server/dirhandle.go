package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// openDir opens the directory dir ("" for the root), the parent of the
// path rel that messages name, as an [os.Root] of its
// own, so that the operations on one file below it cost one system call
// each instead of a walk from the root every time. It walks dir one
// component at a time from the root and refuses a component that is a
// symlink or not a directory, with FailedPrecondition, so that a file is
// never written through a link. With create, missing directories are
// created with mode 0755; without it, a missing one is an error wrapping
// fs.ErrNotExist. The caller closes the result.
//
// The handle stays on the directory it opened: if that directory is moved
// within the root meanwhile, writes follow it, and if it is deleted, they
// fail. Either way they stay inside the root.
func (s *Server) openDir(rel, dir string, create bool) (*os.Root, error) {
	cur, err := s.root.OpenRoot(".")
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	if dir == "" {
		return cur, nil
	}
	return s.walkBelow(cur, true, rel, dir, 0, create)
}

// walkBelow opens the directory dir, whose first done bytes name start (0
// for the root), by opening the rest one component at a time with
// openChildDir. With own, start is closed too; otherwise the caller keeps
// it. dir must go below start.
func (s *Server) walkBelow(start *os.Root, own bool, rel, dir string, done int, create bool) (*os.Root, error) {
	cur := start
	for comp := range strings.SplitSeq(dir[done:], "/") {
		walked := dir[:done+len(comp)]
		done += len(comp) + 1
		next, err := s.openChildDir(cur, comp, rel, walked, create)
		if own || cur != start {
			cur.Close()
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// openChildDir opens the directory name in parent, as openDir does for one
// component; walked is its path from the root, for messages.
func (s *Server) openChildDir(parent *os.Root, name, rel, walked string, create bool) (*os.Root, error) {
	info, err := parent.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := parent.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create directory %q: %w", walked, err)
		}
		info, err = parent.Lstat(name)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("lstat parent %q: %w", walked, err)
	case info.Mode().Type() == fs.ModeSymlink:
		return nil, refuse(errBlockedParent,
			"path %q: parent %q is a symlink on the server; delete it first", rel, walked)
	case !info.IsDir():
		return nil, refuse(errBlockedParent,
			"path %q: parent %q is not a directory on the server; delete it first", rel, walked)
	}
	child, err := parent.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("open directory %q: %w", walked, err)
	}
	// name may have been swapped for a link between the Lstat and the
	// open: the link was then resolved inside parent, so nothing escaped
	// the root, but the file would land elsewhere than asked. Refuse.
	opened, err := child.Stat(".")
	if err != nil || !os.SameFile(info, opened) {
		child.Close()
		return nil, refuse(errChangedMeanwhile, "path %q: parent %q changed while it was opened; try again", rel, walked)
	}
	return child, nil
}
