package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// errDirChanged reports a directory that was replaced while a scan opened
// it.
var errDirChanged = errors.New("directory replaced during the scan")

// scanDir is a directory a scan lists, and in which it looks up the items
// by name. The caller closes it.
type scanDir interface {
	lstat(name string) (fs.FileInfo, error)
	readlink(name string) (string, error)
	readDir() ([]fs.DirEntry, error)
	// sub returns the child directory name, which lstat described as
	// info.
	sub(name string, info fs.FileInfo) (scanDir, error)
	close()
}

// openScanRoot returns the directory root for a scan: by path, or, if
// contained, as a handle (see [ScanOptions.Contained]).
func openScanRoot(root string, contained bool) (scanDir, error) {
	if !contained {
		return pathDir(root), nil
	}
	return openContainedRoot(root)
}

// pathDir is a directory named by its file system path: every lookup
// resolves the path again.
type pathDir string

func (d pathDir) lstat(name string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(string(d), name))
}

func (d pathDir) readlink(name string) (string, error) {
	return os.Readlink(filepath.Join(string(d), name))
}

func (d pathDir) readDir() ([]fs.DirEntry, error) {
	f, err := os.Open(string(d))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

func (d pathDir) sub(name string, _ fs.FileInfo) (scanDir, error) {
	return pathDir(filepath.Join(string(d), name)), nil
}

func (d pathDir) close() {}
