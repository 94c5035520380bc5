package client

import "github.com/dirsync/dirsync/engine"

// modeSetid holds the setuid, setgid and sticky bits in Unix numbering.
const modeSetid = 0o7000

// withoutSetid returns local as a server that drops set-id bits holds
// it: every mode without setuid, setgid and sticky. It returns local
// itself when no entry has them, and otherwise a copy, so the scan stays
// as it was read.
func withoutSetid(local engine.Manifest) engine.Manifest {
	if countSetid(local) == 0 {
		return local
	}
	out := make(engine.Manifest, len(local))
	for i, e := range local {
		if e.Type != engine.TypeSymlink {
			e.Mode &^= modeSetid
		}
		out[i] = e
	}
	return out
}

// countSetid returns how many entries of m, symlinks aside, have a
// setuid, setgid or sticky bit.
func countSetid(m engine.Manifest) int {
	n := 0
	for _, e := range m {
		if e.Type != engine.TypeSymlink && e.Mode&modeSetid != 0 {
			n++
		}
	}
	return n
}
