package server

import (
	"io/fs"
	"syscall"
)

// inodeOf returns the inode number and change time of info.
func inodeOf(info fs.FileInfo) (ino uint64, ctimeNs int64) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return st.Ino, st.Ctim.Nano()
}
