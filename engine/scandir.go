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

// rootDir is a directory held open, opened in its parent's handle: a
// lookup in it never leaves it, whatever happens to the path that led to
// it. Contained scans use it where there is no [fdDir].
type rootDir struct{ r *os.Root }

func (d rootDir) lstat(name string) (fs.FileInfo, error) { return d.r.Lstat(name) }

func (d rootDir) readlink(name string) (string, error) { return d.r.Readlink(name) }

func (d rootDir) readDir() ([]fs.DirEntry, error) {
	f, err := d.r.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// sub opens name and checks that it is still the directory info describes:
// one swapped for a symlink since would have been resolved (inside d at
// worst) and one swapped for another directory is not what was listed.
func (d rootDir) sub(name string, info fs.FileInfo) (scanDir, error) {
	c, err := d.r.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	opened, err := c.Stat(".")
	if err == nil && !os.SameFile(info, opened) {
		err = errDirChanged
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return rootDir{c}, nil
}

func (d rootDir) close() { d.r.Close() }
