//go:build !unix

package engine

import "io/fs"

// deviceNumbers reports that this system has no device numbers to read.
func deviceNumbers(fs.FileInfo) (major, minor uint32, ok bool) { return 0, 0, false }
