//go:build !unix

package engine

import "io/fs"

// FileIDOf returns false: this system has no device and inode numbers.
func FileIDOf(fs.FileInfo) (FileID, bool) {
	return FileID{}, false
}
