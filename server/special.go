package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// makeSpecial makes e.Path, in its parent directory parent, a named pipe
// with e's mode and mtime, replacing whatever is there, a directory tree
// included. Nothing here opens the pipe: opening one blocks until a peer
// opens its other end. A pipe at a free name is made in place; one that
// replaces an entry is made under a temporary name and renamed over it,
// as a symlink is (see [Server.makeSymlink]).
func (s *Server) makeSpecial(parent *os.Root, e engine.Entry) error {
	if e.Type != engine.TypeFIFO {
		return invalidf("make special %q: type %v, only named pipes are made", e.Path, e.Type)
	}
	df, err := openDirFile(parent)
	if err != nil {
		return fmt.Errorf("make named pipe %q: %w", e.Path, err)
	}
	defer df.close()
	name := path.Base(e.Path)
	info, err := parent.Lstat(name)
	switch {
	case err == nil && info.Mode().Type() == fs.ModeNamedPipe:
		return s.setSpecialMeta(parent, df, name, e)
	case errors.Is(err, fs.ErrNotExist) && !s.syncNewFiles:
		// Fails if the name was taken since: then replace what is there.
		if err := df.mkfifo(name, 0o600); err == nil {
			return s.setSpecialMeta(parent, df, name, e)
		}
	}
	tmp := tempPath(engine.ParentPath(e.Path))
	tmpName := path.Base(tmp)
	if err := df.mkfifo(tmpName, 0o600); err != nil {
		return fmt.Errorf("make named pipe %q: %w", e.Path, err)
	}
	if err := s.setSpecialMeta(parent, df, tmpName, e); err != nil {
		s.discardTemp(parent, nil, tmpName)
		return err
	}
	if err := s.replace(tmp, e.Path); err != nil {
		s.discardTemp(parent, nil, tmpName)
		return err
	}
	return nil
}

// setSpecialMeta gives the named pipe name of parent, also open as df,
// the mode and mtime of e.
func (s *Server) setSpecialMeta(parent *os.Root, df *dirFile, name string, e engine.Entry) error {
	if err := parent.Chmod(name, engine.FileMode(e.Mode)); err != nil {
		return fmt.Errorf("chmod %q: %w", e.Path, err)
	}
	if err := df.setMtime(name, time.Unix(0, e.MtimeNs)); err != nil {
		return fmt.Errorf("set mtime of %q: %w", e.Path, err)
	}
	s.stats.changed()
	return nil
}

// setLinkMtime sets the mtime of the symlink name of parent itself,
// never of what it points to, as rsync -a does with lutimes.
func setLinkMtime(parent *os.Root, name, rel string, mtimeNs int64) error {
	df, err := openDirFile(parent)
	if err != nil {
		return fmt.Errorf("set mtime of symlink %q: %w", rel, err)
	}
	defer df.close()
	if err := df.setMtime(name, time.Unix(0, mtimeNs)); err != nil {
		return fmt.Errorf("set mtime of symlink %q: %w", rel, err)
	}
	return nil
}
