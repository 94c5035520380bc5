//go:build !linux

package server

import (
	"errors"
	"os"
)

// startWriteback does nothing where the kernel has no sync_file_range: the
// final fsync writes everything.
func startWriteback(*os.File, int64, int64) {}

// canSyncFilesystem reports whether syncFilesystem is available.
const canSyncFilesystem = false

// syncFilesystem is not available here; group commits fsync each file.
func syncFilesystem(*os.File) error {
	return errors.New("syncfs is not available on this system")
}

// directAlign is unused where setDirect is unavailable.
const directAlign = 4096

// setDirect is not available here: every write goes through the page
// cache.
func setDirect(*os.File, bool) bool { return false }

// deviceOf returns 0: group commits fsync each file here, without syncfs,
// so the file system a file is on does not matter.
func deviceOf(os.FileInfo) uint64 { return 0 }
