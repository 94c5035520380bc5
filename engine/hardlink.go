package engine

import "io/fs"

// GroupHardLinks sets the HardlinkTarget of the regular files of m, which
// must be sorted, that a scan found to share an inode: within each such
// set, the first file in path order is the primary and keeps an empty
// HardlinkTarget, and every other one names it. Only the files of m count,
// so two scans of the same paths of the same tree agree; m may be the
// concatenation of several scans. Entries not made by a scan are left
// alone, and a HardlinkTarget set before is recomputed.
func GroupHardLinks(m Manifest) {
	var primary map[FileID]string
	for i := range m {
		e := &m[i]
		// Only regular files form link sets, as with rsync -H: a named
		// pipe or device is made anew on each side, never linked.
		if e.linkID == (FileID{}) || e.Type != TypeFile {
			continue
		}
		if primary == nil {
			primary = make(map[FileID]string)
		}
		if p, ok := primary[e.linkID]; ok {
			e.HardlinkTarget = p
		} else {
			primary[e.linkID] = e.Path
			e.HardlinkTarget = ""
		}
	}
}

// HardLinked reports whether info, from lstat, describes a regular file
// with more than one link.
func HardLinked(info fs.FileInfo) bool {
	_, ok := linkIDOf(info)
	return ok
}

// HasHardLinks reports whether m holds a file that a scan found to have
// more than one link, whether or not the others are in m.
func HasHardLinks(m Manifest) bool {
	for i := range m {
		if m[i].linkID != (FileID{}) {
			return true
		}
	}
	return false
}
