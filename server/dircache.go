package server

import (
	"os"
	"sync"

	"github.com/dirsync/dirsync/engine"
)

// dirCacheMax is the most directory handles one Upload stream keeps open
// for the files that follow. A tree of small files has many files per
// directory, and the client sends them grouped by directory, so a few
// hundred handles spare nearly every walk.
const dirCacheMax = 256

// dirCache keeps the parent directories that one Upload stream has opened
// with [Server.openDir], so that the next file in the same directory skips
// the walk from the root: on 20,000 small files the walk was about 15% of
// the server's CPU. Handles are shared and reference-counted: a file
// holds its directory until it is committed or fails, which may be after
// the cache dropped it.
//
// A handle stays on the directory it opened, as [os.Root] does. The
// server bumps its directory epoch before it removes a directory (a
// delete or a type change), and the cache then drops every handle, so a
// file never lands in a directory the server removed or replaced. Moves
// made on the server by other programs are outside what the cache can
// see: writes then follow the directory, as they would for the lifetime
// of one file without the cache.
//
// The zero value is not usable; make one with [Server.newDirCache] and
// close it when the stream ends.
type dirCache struct {
	s     *Server
	mu    sync.Mutex
	epoch uint64
	dirs  map[string]*sharedDir
	order []string // keys of dirs, oldest first
}

// sharedDir is a directory handle and the number of holders: the cache
// and the files using it.
type sharedDir struct {
	root *os.Root
	// file is the same directory for the *at calls, or nil where
	// [openDirFile] failed.
	file *dirFile
	refs int
}

// newDirCache returns an empty cache for one stream.
func (s *Server) newDirCache() *dirCache {
	return &dirCache{s: s, epoch: s.dirEpoch.Load(), dirs: map[string]*sharedDir{}}
}

// open returns the directory dir, the parent of rel, as [Server.openDir]
// does, from the cache when it holds it, and the same directory as a
// [dirFile], or nil. The caller calls release once it is done with the
// handles, and must not close them.
func (c *dirCache) open(rel, dir string, create bool) (root *os.Root, file *dirFile, release func(), err error) {
	epoch := c.s.dirEpoch.Load()
	c.mu.Lock()
	if epoch != c.epoch {
		c.dropAllLocked()
		c.epoch = epoch
	}
	if d, ok := c.dirs[dir]; ok {
		d.refs++
		c.mu.Unlock()
		return d.root, d.file, c.releaser(d), nil
	}
	c.mu.Unlock()

	opened, err := c.openBelowAncestor(rel, dir, create)
	if err != nil {
		return nil, nil, nil, err
	}
	d := &sharedDir{root: opened, refs: 1}
	if f, err := openDirFile(opened); err == nil {
		d.file = f
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Keep the handle only if no directory was removed while it was
	// opened, and no other handle for dir arrived meanwhile.
	if _, dup := c.dirs[dir]; !dup && c.s.dirEpoch.Load() == c.epoch {
		d.refs++
		c.dirs[dir] = d
		c.order = append(c.order, dir)
		if len(c.order) > dirCacheMax {
			oldest := c.order[0]
			c.order = c.order[1:]
			c.unrefLocked(c.dirs[oldest])
			delete(c.dirs, oldest)
		}
	}
	return opened, d.file, c.releaser(d), nil
}

// openBelowAncestor opens dir as [Server.openDir] does, but walks from
// the deepest ancestor of dir the cache holds, checking each component
// below it the same way, so that the directories of a tree cost one
// component each rather than a walk from the root. Without a cached
// ancestor it walks from the root.
func (c *dirCache) openBelowAncestor(rel, dir string, create bool) (*os.Root, error) {
	c.mu.Lock()
	var anc *sharedDir
	ancDir := ""
	for p := engine.ParentPath(dir); p != ""; p = engine.ParentPath(p) {
		if d, ok := c.dirs[p]; ok {
			d.refs++
			anc, ancDir = d, p
			break
		}
	}
	c.mu.Unlock()
	if anc == nil {
		return c.s.openDir(rel, dir, create)
	}
	defer func() {
		c.mu.Lock()
		c.unrefLocked(anc)
		c.mu.Unlock()
	}()
	return c.s.walkBelow(anc.root, false, rel, dir, len(ancDir)+1, create)
}

// releaser returns the function that drops one holder's reference to d.
func (c *dirCache) releaser(d *sharedDir) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.unrefLocked(d)
			c.mu.Unlock()
		})
	}
}

// close drops the cache's references; handles still held by files close
// when those files release them.
func (c *dirCache) close() {
	c.mu.Lock()
	c.dropAllLocked()
	c.mu.Unlock()
}

// dropAllLocked empties the cache.
func (c *dirCache) dropAllLocked() {
	for _, d := range c.dirs {
		c.unrefLocked(d)
	}
	clear(c.dirs)
	c.order = c.order[:0]
}

// unrefLocked drops one reference to d and closes it after the last.
func (c *dirCache) unrefLocked(d *sharedDir) {
	d.refs--
	if d.refs == 0 {
		if d.file != nil {
			d.file.close()
		}
		d.root.Close()
	}
}
