//go:build unix

package engine

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// deviceNumbers returns the major and minor numbers of the device info
// describes, from its lstat, and false if info does not carry them.
func deviceNumbers(info fs.FileInfo) (major, minor uint32, ok bool) {
	var rdev uint64
	switch st := info.Sys().(type) {
	case *syscall.Stat_t:
		rdev = uint64(st.Rdev)
	case *unix.Stat_t:
		rdev = uint64(st.Rdev)
	default:
		return 0, 0, false
	}
	return unix.Major(rdev), unix.Minor(rdev), true
}
