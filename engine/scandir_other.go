//go:build !linux

package engine

import (
	"io/fs"
	"os"
)

// openContainedRoot opens root, which may be reached through a symlink,
// as the first directory of a contained scan: here a [rootDir].
func openContainedRoot(root string) (scanDir, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return rootDir{r}, nil
}

// rootDir is a directory held open, opened in its parent's handle: a
// lookup in it never leaves it, whatever happens to the path that led to
// it. Contained scans use it where there is no fdDir (Linux has one).
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
