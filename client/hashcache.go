package client

import (
	"sync"

	"github.com/dirsync/dirsync/engine"
)

// hashCache remembers the SHA-256 of local files by path, valid while their
// size and mtime stay what they were when hashed, so that a file touched
// but not changed is not read twice. It is safe for concurrent use.
type hashCache struct {
	mu sync.Mutex
	m  map[string]cachedHash
}

// cachedHash is one file's hash with the stat it was computed under.
type cachedHash struct {
	size, mtimeNs int64
	sum           [32]byte
}

// newHashCache returns an empty cache.
func newHashCache() *hashCache {
	return &hashCache{m: make(map[string]cachedHash)}
}

// get returns the hash of path if it was hashed at this size and mtime.
func (c *hashCache) get(path string, size, mtimeNs int64) ([32]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[path]
	if !ok || h.size != size || h.mtimeNs != mtimeNs {
		return [32]byte{}, false
	}
	return h.sum, true
}

// put records the hash of path at this size and mtime.
func (c *hashCache) put(path string, size, mtimeNs int64, sum [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[path] = cachedHash{size: size, mtimeNs: mtimeNs, sum: sum}
}

// forget drops the hash of path.
func (c *hashCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, path)
}

// retain drops every path that is not a regular file of m, a manifest of
// the whole tree, so the cache does not grow with files long deleted.
func (c *hashCache) retain(m engine.Manifest) {
	keep := make(map[string]bool, len(m))
	for _, e := range m {
		if e.Type == engine.TypeFile {
			keep[e.Path] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.m {
		if !keep[p] {
			delete(c.m, p)
		}
	}
}
