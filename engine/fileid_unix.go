//go:build unix

package engine

import (
	"io/fs"
	"syscall"
)

// FileIDOf returns the FileID of the file info describes, and false if
// info does not carry one.
func FileIDOf(info fs.FileInfo) (FileID, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, false
	}
	return FileID{Device: uint64(st.Dev), Inode: uint64(st.Ino)}, true
}
