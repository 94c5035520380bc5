package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalidManifest reports a manifest that breaks one of the rules checked
// by [Manifest.Validate].
var ErrInvalidManifest = errors.New("invalid manifest")

// MaxManifestEntries is the largest number of entries [Manifest.Validate]
// accepts: ten million, far above any tree dirsync is meant for, yet small
// enough that a peer cannot make the other side hold an unbounded list.
const MaxManifestEntries = 10_000_000

// Manifest lists the entries of a tree, sorted by Path in the order of
// [ComparePaths], so that every directory comes right before its contents.
// The root itself is not an entry. A Manifest is a plain slice: it is safe
// for concurrent reads, not for concurrent writes.
type Manifest []Entry

// ComparePaths orders two paths component by component, returning -1, 0 or
// +1. It is byte order except that '/' sorts before every other byte, so
// "a" < "a/b" < "a/c" < "a-b": a directory's contents follow it directly,
// before any sibling whose name merely starts with the directory's name.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		switch {
		case ca == '/':
			return -1
		case cb == '/':
			return +1
		case ca < cb:
			return -1
		default:
			return +1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return +1
	}
	return 0
}

// compareEntries orders entries by [ComparePaths].
func compareEntries(a, b Entry) int {
	return ComparePaths(a.Path, b.Path)
}

// Sort sorts m in place in the order of [ComparePaths]. Entries with equal
// paths keep their relative order.
func (m Manifest) Sort() {
	slices.SortStableFunc(m, compareEntries)
}

// Lookup returns the entry with path p by binary search. m must be sorted.
func (m Manifest) Lookup(p string) (Entry, bool) {
	i, ok := m.search(p)
	if !ok {
		return Entry{}, false
	}
	return m[i], true
}

// search returns the index of the first entry whose path is not before p,
// and whether that entry's path is p. m must be sorted.
func (m Manifest) search(p string) (int, bool) {
	return slices.BinarySearchFunc(m, p, func(e Entry, p string) int {
		return ComparePaths(e.Path, p)
	})
}

// Index returns a map from path to entry. If a path appears twice, the later
// entry wins.
func (m Manifest) Index() map[string]Entry {
	idx := make(map[string]Entry, len(m))
	for _, e := range m {
		idx[e.Path] = e
	}
	return idx
}

// Validate checks a manifest received from a peer. It requires at most
// [MaxManifestEntries] entries, sorted by [ComparePaths] without duplicates,
// and for every entry: a path accepted by [ValidatePath]; a known type; a
// parent present earlier as a directory (the parent of a top-level entry is
// the root, which is not listed); Mode at most 0o7777; Size non-negative and
// 0 for anything but a regular file; for a symlink, a non-empty LinkTarget
// without NUL of at most [MaxPathLength] bytes; for anything else, no
// LinkTarget; a hash (HasSHA256) only on a regular file; and a
// HardlinkTarget only on a regular file, naming a regular file listed
// before it that has none itself. The error wraps
// [ErrInvalidManifest], and [ErrInvalidPath] for a bad path, and names the
// entry by index and path.
func (m Manifest) Validate() error {
	if len(m) > MaxManifestEntries {
		return fmt.Errorf("%w: %d entries, more than %d", ErrInvalidManifest, len(m), MaxManifestEntries)
	}
	// dirs is the chain of directories that contain the current entry,
	// outermost first. Because a directory's contents directly follow it
	// in the sorted order, an entry's parent, if listed, is on the chain.
	var dirs []string
	for i, e := range m {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("%w: entry %d %s: %w", ErrInvalidManifest, i, quotePath(e.Path), err)
		}
		if i > 0 {
			switch c := ComparePaths(m[i-1].Path, e.Path); {
			case c == 0:
				return fmt.Errorf("%w: entry %d %s: duplicate path", ErrInvalidManifest, i, quotePath(e.Path))
			case c > 0:
				return fmt.Errorf("%w: entry %d %s: out of order after %s", ErrInvalidManifest, i, quotePath(e.Path), quotePath(m[i-1].Path))
			}
		}
		for len(dirs) > 0 && !IsWithin(e.Path, dirs[len(dirs)-1]) {
			dirs = dirs[:len(dirs)-1]
		}
		parent, top := ParentPath(e.Path), ""
		if len(dirs) > 0 {
			top = dirs[len(dirs)-1]
		}
		if parent != top {
			// A listed parent sits on the chain unless it is not a
			// directory; then it is the entry right before this one.
			if i > 0 && m[i-1].Path == parent {
				return fmt.Errorf("%w: entry %d %s: parent is a %v, not a dir", ErrInvalidManifest, i, quotePath(e.Path), m[i-1].Type)
			}
			return fmt.Errorf("%w: entry %d %s: parent %s not listed", ErrInvalidManifest, i, quotePath(e.Path), quotePath(parent))
		}
		if e.Type == TypeDir {
			dirs = append(dirs, e.Path)
		}
		if e.HardlinkTarget != "" {
			if j, ok := m[:i].search(e.HardlinkTarget); !ok || m[j].Type != TypeFile || m[j].HardlinkTarget != "" {
				return fmt.Errorf("%w: entry %d %s: hard link target %s is not a primary file listed before it",
					ErrInvalidManifest, i, quotePath(e.Path), quotePath(e.HardlinkTarget))
			}
		}
	}
	return nil
}

// checkEntry checks the rules of [Manifest.Validate] that concern a single
// entry. [Scan] uses it too, so that what it returns passes Validate.
func checkEntry(e Entry) error {
	if err := ValidatePath(e.Path); err != nil {
		return err
	}
	if !e.Type.valid() {
		return fmt.Errorf("unknown type %d", uint8(e.Type))
	}
	if e.Mode > modeMask {
		return fmt.Errorf("mode %#o above 0o7777", e.Mode)
	}
	if e.Size < 0 {
		return fmt.Errorf("negative size %d", e.Size)
	}
	if e.Type != TypeFile {
		if e.Size != 0 {
			return fmt.Errorf("%v with size %d", e.Type, e.Size)
		}
		if e.HasSHA256 {
			return fmt.Errorf("%v with a hash", e.Type)
		}
	}
	if (e.DevMajor != 0 || e.DevMinor != 0) && e.Type != TypeCharDev && e.Type != TypeBlockDev {
		return fmt.Errorf("%v with device numbers", e.Type)
	}
	if e.Type == TypeSymlink {
		switch {
		case e.LinkTarget == "":
			return errors.New("symlink with an empty target")
		case len(e.LinkTarget) > MaxPathLength:
			return fmt.Errorf("symlink target longer than %d bytes", MaxPathLength)
		case strings.IndexByte(e.LinkTarget, 0) >= 0:
			return errors.New("symlink target contains NUL")
		}
	} else if e.LinkTarget != "" {
		return fmt.Errorf("%v with a link target", e.Type)
	}
	if e.HardlinkTarget != "" {
		if e.Type != TypeFile {
			return fmt.Errorf("%v with a hard link target", e.Type)
		}
		if err := ValidatePath(e.HardlinkTarget); err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if ComparePaths(e.HardlinkTarget, e.Path) >= 0 {
			return errors.New("hard link target does not come before the entry")
		}
	}
	return nil
}

// Subtree returns the entries of m at or below any of scopes (see
// [IsWithin]), in a new sorted manifest. A scope "" selects everything;
// scopes may overlap and need not exist in m. m must be sorted.
func (m Manifest) Subtree(scopes ...string) Manifest {
	scopes = slices.Clone(scopes)
	slices.SortFunc(scopes, ComparePaths)
	// Drop scopes within an earlier one; the rest select disjoint runs of
	// m in increasing order.
	kept := scopes[:0]
	for _, s := range scopes {
		if len(kept) == 0 || !IsWithin(s, kept[len(kept)-1]) {
			kept = append(kept, s)
		}
	}
	var out Manifest
	for _, s := range kept {
		i, _ := m.search(s)
		for ; i < len(m) && IsWithin(m[i].Path, s); i++ {
			out = append(out, m[i])
		}
	}
	return out
}
