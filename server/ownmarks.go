package server

import (
	"time"

	"github.com/dirsync/dirsync/engine"
)

// ownMarksMax bounds the marks a root watcher keeps, about 100 bytes
// each: past it the oldest go first. 65536 covers the 2 s of ownTTL at
// the tens of thousands of small files a second an initial sync may place;
// a mark lost early only makes its event look like drift, which costs a
// watching client a scoped pass that finds nothing to do.
const ownMarksMax = 1 << 16

// ownMark is what one of the server's own changes left at a path.
type ownMark struct {
	ident entryIdent
	until time.Time
}

// markRef records, in the order they were made, when a mark of marks (or
// of anc, with anc set) expires.
type markRef struct {
	path  string
	anc   bool
	until time.Time
}

// ownMarks remembers, for ownTTL, what the server's own changes left at
// their paths, and which directories lay above them. It expires marks
// oldest first, so each costs O(1) to add and to expire. It is not safe
// for concurrent use: the root watcher's mutex guards it.
type ownMarks struct {
	max   int
	marks map[string]ownMark
	// anc maps each ancestor of a marked path to when the newest such
	// mark expires: the server may have created the ancestor on the way.
	anc map[string]time.Time
	// order holds the marks from order[head] on, oldest first.
	order []markRef
	head  int
}

// newOwnMarks returns an empty set that keeps at most max marks.
func newOwnMarks(max int) *ownMarks {
	return &ownMarks{max: max, marks: make(map[string]ownMark), anc: make(map[string]time.Time)}
}

// put records that an own change left id at rel, until until.
func (m *ownMarks) put(rel string, id entryIdent, until time.Time) {
	m.marks[rel] = ownMark{ident: id, until: until}
	m.push(markRef{path: rel, until: until})
	for p := rel; p != ""; {
		p = engine.ParentPath(p)
		// Refreshed a quarter of ownTTL at a time: a file placed under a
		// directory then costs one entry, not one per level.
		if old, ok := m.anc[p]; ok && until.Sub(old) < ownTTL/4 {
			continue
		}
		m.anc[p] = until
		m.push(markRef{path: p, anc: true, until: until})
	}
}

// push appends r and drops the oldest marks past the cap.
func (m *ownMarks) push(r markRef) {
	m.order = append(m.order, r)
	for len(m.order)-m.head > m.max {
		m.drop()
	}
}

// sweep drops the marks that expired by now.
func (m *ownMarks) sweep(now time.Time) {
	for m.head < len(m.order) && now.After(m.order[m.head].until) {
		m.drop()
	}
}

// drop forgets the oldest mark, unless a newer one replaced it.
func (m *ownMarks) drop() {
	r := m.order[m.head]
	m.order[m.head] = markRef{}
	m.head++
	if r.anc {
		if m.anc[r.path].Equal(r.until) {
			delete(m.anc, r.path)
		}
	} else if m.marks[r.path].until.Equal(r.until) {
		delete(m.marks, r.path)
	}
	if m.head > len(m.order)/2 {
		// Reuse the front half of the array.
		n := copy(m.order, m.order[m.head:])
		m.order = m.order[:n]
		m.head = 0
	}
}

// own reports whether what is at rel now is what a recent change of the
// server's own left there: the same entry; a directory the server made on
// the way to one; or nothing, because the server removed or replaced an
// ancestor.
func (m *ownMarks) own(rel string, now entryIdent, at time.Time) bool {
	if mk, ok := m.marks[rel]; ok && at.Before(mk.until) && mk.ident.same(now) {
		return true
	}
	if now.exists {
		until, ok := m.anc[rel]
		return ok && now.isDir && at.Before(until)
	}
	for p := rel; p != ""; {
		p = engine.ParentPath(p)
		if mk, ok := m.marks[p]; ok && at.Before(mk.until) && !mk.ident.isDir {
			return true
		}
	}
	return false
}
