package server

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing n bytes of f from off to disk, without
// waiting. It is only a hint: a failure shows up at the fsync that
// follows, so it is ignored here.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// canSyncFilesystem reports whether syncFilesystem is available.
const canSyncFilesystem = true

// syncFilesystem makes everything written to the file system that holds f
// durable, with one syncfs(2): data, inodes and directory entries alike.
func syncFilesystem(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("syncfs: %w", serr)
	}
	return nil
}

// directAlign is the alignment O_DIRECT wants of buffers, lengths and
// offsets on the file systems it is used on here: a logical block.
const directAlign = 4096

// setDirect turns O_DIRECT on or off for f and reports whether f is now
// in that mode. Turning it on fails where the file system does not
// support it; f is then left as it was.
func setDirect(f *os.File, on bool) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
		ok = err == nil
	})
	return ok
}

// deviceOf returns the device number of the file system that holds the
// file info describes.
func deviceOf(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev) // Dev is narrower on some platforms
	}
	return 0
}
