package server

import (
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"
)

// content describes the content of one regular file as it was when it was
// hashed: its size and modification time, and its SHA-256.
type content struct {
	size    int64
	mtimeNs int64
	sum     [32]byte
}

// matches reports whether a file whose lstat reports size and mtimeNs may
// still hold c. Equal size and modification time are taken as unchanged
// content, as rsync's quick check does.
func (c content) matches(size, mtimeNs int64) bool {
	return c.size == size && c.mtimeNs == mtimeNs
}

// contentIndex maps the relative paths of regular files to their content,
// and SHA-256 sums back to the paths that hold them. It is a cache: callers
// check an entry against the file's current size and mtime (or rehash)
// before relying on it. It is safe for concurrent use.
type contentIndex struct {
	mu     sync.RWMutex
	byPath map[string]content
	bySum  map[[32]byte]pathSet
	// sorted holds the paths of byPath in byte order, where the paths
	// under a directory are contiguous: removeTree visits those only,
	// so deleting many directories does not walk the index for each.
	sorted *btree.BTreeG[string]
	bytes  int64 // total size of the files in byPath
	// visited counts the paths removeTree has looked at, for tests.
	visited int64
}

// indexDegree is the degree of contentIndex.sorted; 32, google/btree's
// usual choice, keeps nodes within a few cache lines.
const indexDegree = 32

// pathSet is the set of paths that hold one content. Nearly every content
// has a single holder, so that one is kept inline and a map is made only
// for the others: a map per content cost about 1 KiB per file.
type pathSet struct {
	first string              // a holder; "" when the set is empty
	rest  map[string]struct{} // the other holders; nil when there are none
}

// add adds p to the set.
func (ps *pathSet) add(p string) {
	switch {
	case ps.first == "" || ps.first == p:
		ps.first = p
	default:
		if ps.rest == nil {
			ps.rest = make(map[string]struct{}, 1)
		}
		ps.rest[p] = struct{}{}
	}
}

// remove removes p from the set.
func (ps *pathSet) remove(p string) {
	if ps.first != p {
		delete(ps.rest, p)
		return
	}
	ps.first = ""
	for q := range ps.rest {
		ps.first = q
		delete(ps.rest, q)
		break
	}
	if len(ps.rest) == 0 {
		ps.rest = nil
	}
}

// list returns at most n paths of the set, unsorted; which ones, when it
// holds more, is unspecified.
func (ps pathSet) list(n int) []string {
	if ps.first == "" || n <= 0 {
		return nil
	}
	paths := make([]string, 0, min(n, 1+len(ps.rest)))
	paths = append(paths, ps.first)
	for p := range ps.rest {
		if len(paths) == n {
			break
		}
		paths = append(paths, p)
	}
	return paths
}

// newContentIndex returns an empty index.
func newContentIndex() *contentIndex {
	return &contentIndex{
		byPath: make(map[string]content),
		bySum:  make(map[[32]byte]pathSet),
		sorted: btree.NewG(indexDegree, func(a, b string) bool { return a < b }),
	}
}

// put records that the file at rel holds c, replacing what was known.
func (ix *contentIndex) put(rel string, c content) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.byPath[rel]; ok {
		ix.unsumLocked(rel, old)
	} else {
		ix.sorted.ReplaceOrInsert(rel)
	}
	ix.byPath[rel] = c
	ix.bytes += c.size
	paths := ix.bySum[c.sum]
	paths.add(rel)
	ix.bySum[c.sum] = paths
}

// get returns what is known about the file at rel.
func (ix *contentIndex) get(rel string) (content, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c, ok := ix.byPath[rel]
	return c, ok
}

// remove forgets the file at rel.
func (ix *contentIndex) remove(rel string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.dropLocked(rel)
}

// removeTree forgets rel and every path below it, for a directory that was
// removed or replaced. It costs what the paths below rel cost, not the
// whole index.
func (ix *contentIndex) removeTree(rel string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.dropLocked(rel)
	prefix := rel + "/"
	var below []string
	ix.sorted.AscendGreaterOrEqual(prefix, func(p string) bool {
		ix.visited++
		if !strings.HasPrefix(p, prefix) {
			return false
		}
		below = append(below, p)
		return true
	})
	for _, p := range below {
		ix.dropLocked(p)
	}
}

// dropLocked forgets the single path rel. ix.mu must be held for writing.
func (ix *contentIndex) dropLocked(rel string) {
	old, ok := ix.byPath[rel]
	if !ok {
		return
	}
	delete(ix.byPath, rel)
	ix.sorted.Delete(rel)
	ix.unsumLocked(rel, old)
}

// unsumLocked forgets that rel holds old, in bySum and the byte count.
// ix.mu must be held for writing.
func (ix *contentIndex) unsumLocked(rel string, old content) {
	ix.bytes -= old.size
	paths := ix.bySum[old.sum]
	paths.remove(rel)
	if paths.first == "" {
		delete(ix.bySum, old.sum)
	} else {
		ix.bySum[old.sum] = paths
	}
}

// holders returns at most n of the paths recorded as holding content with
// the given SHA-256, sorted. The bound keeps a lookup's cost independent
// of how many files share a content (every empty file shares one).
func (ix *contentIndex) holders(sum [32]byte, n int) []string {
	ix.mu.RLock()
	paths := ix.bySum[sum].list(n)
	ix.mu.RUnlock()
	slices.Sort(paths)
	return paths
}

// stats returns the number of files in the index, their total size and the
// number of distinct contents.
func (ix *contentIndex) stats() (files, bytes, unique int64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int64(len(ix.byPath)), ix.bytes, int64(len(ix.bySum))
}
