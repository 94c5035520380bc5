package server

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// rootEntry describes the root directory itself, for GetManifest: its
// mode and mtime, with an empty path.
func (s *Server) rootEntry() (*dirsyncv1.Entry, error) {
	info, err := s.root.Lstat(".")
	if err != nil {
		return nil, fmt.Errorf("lstat root: %w", err)
	}
	e, err := engine.EntryFromInfo("", info, "")
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	return entryToProto(e), nil
}

// setRootMetadata gives the root directory the mode and mtime of pe,
// whose path must be empty, as rsync does with the top directory of a
// transfer. The change is marked as the server's own, so that the root
// watcher does not report it as drift; set-id bits are kept only where
// the server keeps them (see [Server.keptMode]).
func (s *Server) setRootMetadata(pe *dirsyncv1.Entry) error {
	e, err := entryFromProto(pe, engine.TypeDir)
	if err != nil {
		return err
	}
	if e.Path != "" {
		return invalidf("set root metadata: entry path %q, want none", e.Path)
	}
	e.Type = engine.TypeDir
	e.Mode = s.keptMode(e)
	defer s.ownChange("")()
	info, err := s.root.Lstat(".")
	if err != nil {
		return fmt.Errorf("lstat root: %w", err)
	}
	if mode := engine.FileMode(e.Mode); info.Mode()&^fs.ModeType != mode {
		if err := s.root.Chmod(".", mode); err != nil {
			return fmt.Errorf("chmod root: %w", err)
		}
	}
	if info.ModTime().UnixNano() != e.MtimeNs {
		if err := s.root.Chtimes(".", time.Time{}, time.Unix(0, e.MtimeNs)); err != nil {
			return fmt.Errorf("set mtime of root: %w", err)
		}
	}
	s.stats.changed()
	return nil
}
