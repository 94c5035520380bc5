//go:build !unix

package engine

import "io/fs"

// linkIDOf returns false: hard links are not looked for on this system.
func linkIDOf(fs.FileInfo) (FileID, bool) {
	return FileID{}, false
}
