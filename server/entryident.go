package server

import "io/fs"

// entryIdent is what the root watcher compares to tell whether the entry
// at a path is still the one the server's own change left there.
type entryIdent struct {
	exists bool
	isDir  bool
	mode   fs.FileMode
	size   int64
	// mtimeNs and ctimeNs are the modification and change times; ctime
	// moves on every change of content or metadata and no caller can set
	// it, so a write that restores mtime still shows.
	mtimeNs, ctimeNs int64
	ino              uint64
}

// identOf returns the ident of the entry info describes.
func identOf(info fs.FileInfo) entryIdent {
	id := entryIdent{
		exists:  true,
		isDir:   info.IsDir(),
		mode:    info.Mode(),
		size:    info.Size(),
		mtimeNs: info.ModTime().UnixNano(),
	}
	id.ino, id.ctimeNs = inodeOf(info)
	return id
}

// same reports whether a and b are the same entry in the same state. For
// a directory only its identity and mode count: its times move whenever
// an entry in it changes, which the events of that entry report.
func (a entryIdent) same(b entryIdent) bool {
	if a.exists != b.exists || a.isDir != b.isDir || a.mode != b.mode || a.ino != b.ino {
		return false
	}
	return a.isDir || a.size == b.size && a.mtimeNs == b.mtimeNs && a.ctimeNs == b.ctimeNs
}
