package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/dirsync/dirsync/engine"
)

// makeHardlink makes e.Path, in its parent directory parent, a hard link
// to the regular file at e.HardlinkTarget, replacing any non-directory
// there (a directory in the way goes too, as a rename over it does). The
// target is found through directories that are checked not to be
// symlinks, and must itself be a regular file; the link is made under a
// temporary name and renamed into place, so e.Path never lacks an entry.
// Both paths' events are the server's own (see [Server.ownChange]): a new
// link changes the target's link count and ctime too.
func (s *Server) makeHardlink(parent *os.Root, e engine.Entry) error {
	target := e.HardlinkTarget
	if target == "" {
		return invalidf("hard link %q: no hardlink_target", e.Path)
	}
	if err := checkPath(target); err != nil {
		return err
	}
	if target == e.Path {
		return invalidf("hard link %q: links to itself", e.Path)
	}
	defer s.ownChange(target)()
	tdir, err := s.openDir(target, engine.ParentPath(target), false)
	if errors.Is(err, fs.ErrNotExist) {
		return refuse(errNoLinkTarget, "hard link %q to %q: %v", e.Path, target, errNoLinkTarget)
	}
	if err != nil {
		return err
	}
	tinfo, err := tdir.Lstat(path.Base(target))
	tdir.Close()
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && !tinfo.Mode().IsRegular():
		return refuse(errNoLinkTarget, "hard link %q to %q: %v", e.Path, target, errNoLinkTarget)
	case err != nil:
		return fmt.Errorf("lstat %q: %w", target, err)
	}
	name := path.Base(e.Path)
	if info, err := parent.Lstat(name); err == nil && os.SameFile(info, tinfo) {
		return nil // linked already
	}
	tmp := tempPath(engine.ParentPath(e.Path))
	if err := s.root.Link(target, tmp); err != nil {
		return fmt.Errorf("hard link %q to %q: %w", e.Path, target, err)
	}
	if err := s.replace(tmp, e.Path); err != nil {
		s.discardTemp(s.root, nil, tmp)
		return err
	}
	if c, ok := s.index.get(target); ok && c.matches(tinfo.Size(), tinfo.ModTime().UnixNano()) {
		s.index.put(e.Path, c)
	}
	s.stats.changed()
	return nil
}
