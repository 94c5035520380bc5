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
// or a device with e's mode and mtime, replacing whatever is there, a
// directory tree included. Nothing here opens it: opening a pipe blocks
// until a peer opens its other end, and a device reaches the hardware.
// One at a free name is made in place; one that replaces an entry is made
// under a temporary name and renamed over it, as a symlink is (see
// [Server.makeSymlink]). A device is refused unless the server runs as
// root and allows devices.
func (s *Server) makeSpecial(parent *os.Root, e engine.Entry) error {
	switch {
	case !e.Type.Special():
		return invalidf("make special %q: type %v, only named pipes and devices are made", e.Path, e.Type)
	case e.Type != engine.TypeFIFO && !s.devicesAllowed():
		return refuse(errDevicesRefused,
			"make %v %q: this server does not make devices; it does only when it runs as root with --allow-devices (a tenant's allow_devices)", e.Type, e.Path)
	}
	df, err := openDirFile(parent)
	if err != nil {
		return fmt.Errorf("make %v %q: %w", e.Type, e.Path, err)
	}
	defer df.close()
	name := path.Base(e.Path)
	info, err := parent.Lstat(name)
	switch {
	case err == nil && sameSpecial(e, info):
		return s.setSpecialMeta(parent, df, name, e)
	case errors.Is(err, fs.ErrNotExist) && !s.syncNewFiles:
		// Fails if the name was taken since: then replace what is there.
		if err := mkSpecial(df, name, e); err == nil {
			return s.setSpecialMeta(parent, df, name, e)
		}
	}
	tmp := tempPath(engine.ParentPath(e.Path))
	tmpName := path.Base(tmp)
	if err := mkSpecial(df, tmpName, e); err != nil {
		return fmt.Errorf("make %v %q: %w", e.Type, e.Path, err)
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

// devicesAllowed reports whether the server makes devices: only as root,
// and only when Options.AllowDevices is set.
func (s *Server) devicesAllowed() bool {
	return s.allowDevices && os.Geteuid() == 0
}

// mkSpecial makes the named pipe or device e as name in df, with mode
// 0600 until [Server.setSpecialMeta] gives it e's.
func mkSpecial(df *dirFile, name string, e engine.Entry) error {
	if e.Type == engine.TypeFIFO {
		return df.mkfifo(name, 0o600)
	}
	return df.mknod(name, e.Type == engine.TypeCharDev, 0o600, e.DevMajor, e.DevMinor)
}

// sameSpecial reports whether info, from lstat, describes an item of e's
// type and, for a device, numbers.
func sameSpecial(e engine.Entry, info fs.FileInfo) bool {
	cur, err := engine.EntryFromInfo(e.Path, info, "")
	return err == nil && cur.Type == e.Type && cur.DevMajor == e.DevMajor && cur.DevMinor == e.DevMinor
}

// setSpecialMeta gives the named pipe or device name of parent, also open
// as df, the mode and mtime of e.
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
