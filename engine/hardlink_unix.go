//go:build unix

package engine

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkIDOf returns the device and inode of the regular file info
// describes when it has more than one link, and false otherwise. info may
// come from os.Lstat or from a contained scan, which carry different
// Stat_t types.
func linkIDOf(info fs.FileInfo) (FileID, bool) {
	if !info.Mode().IsRegular() {
		return FileID{}, false
	}
	switch st := info.Sys().(type) {
	case *syscall.Stat_t:
		if uint64(st.Nlink) > 1 {
			return FileID{Device: uint64(st.Dev), Inode: uint64(st.Ino)}, true
		}
	case *unix.Stat_t:
		if uint64(st.Nlink) > 1 {
			return FileID{Device: uint64(st.Dev), Inode: uint64(st.Ino)}, true
		}
	}
	return FileID{}, false
}
