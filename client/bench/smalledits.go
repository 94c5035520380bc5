package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// editTime is the mtime of every file the edits touch: later than any
// generated mtime, so both tools' quick checks notice the change.
var editTime = baseTime.Add(2 * year)

// smallEdits is the plan of the S3 edits to a small tree: 1% of the files
// changed, 0.5% deleted, 0.5% added, then one directory renamed.
type smallEdits struct {
	Changed    []fileEdit
	Deleted    []string
	Added      []smallFile
	RenameFrom string
	RenameTo   string
}

// fileEdit inserts a short text snippet into a file at an offset drawn from
// Seed.
type fileEdit struct {
	Path string
	Seed uint64
}

// planSmallEdits plans the edits of t from seed alone.
func planSmallEdits(t smallTree, minSize, maxSize int64, seed uint64) smallEdits {
	r := rand.New(rand.NewPCG(seed, 0x65646974))
	n := len(t.Files)
	perm := r.Perm(n)
	nChange, nDelete, nAdd := max(1, n/100), max(1, n/200), max(1, n/200)
	var e smallEdits
	for _, i := range perm[:nChange] {
		e.Changed = append(e.Changed, fileEdit{Path: t.Files[i].Path, Seed: r.Uint64()})
	}
	for _, i := range perm[nChange : nChange+nDelete] {
		e.Deleted = append(e.Deleted, t.Files[i].Path)
	}
	homes := []string{""}
	for _, d := range t.Dirs {
		if !d.Empty {
			homes = append(homes, d.Path)
		}
	}
	for i := range nAdd {
		dir := homes[r.IntN(len(homes))]
		f := newSmallFile(r, path.Join(dir, fmt.Sprintf("added_%05d.txt", i)), minSize, maxSize)
		f.Mtime = editTime
		e.Added = append(e.Added, f)
	}
	// Rename a non-empty directory near the top, so the rename moves a
	// subtree with files in it.
	var candidates []string
	for _, d := range t.Dirs {
		if d.Depth <= 2 && !d.Empty {
			candidates = append(candidates, d.Path)
		}
	}
	if len(candidates) > 0 {
		e.RenameFrom = candidates[r.IntN(len(candidates))]
		e.RenameTo = path.Join(path.Dir(e.RenameFrom), "renamed_"+path.Base(e.RenameFrom))
	}
	return e
}

// applySmallEdits applies e to the tree under root, which holds the tree e
// was planned from.
func applySmallEdits(root string, e smallEdits) error {
	for _, c := range e.Changed {
		p := filepath.Join(root, filepath.FromSlash(c.Path))
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read file to edit: %w", err)
		}
		r := rand.New(rand.NewPCG(c.Seed, 0x736e6970))
		off := r.IntN(len(data) + 1)
		snippet := textBytes(r, 40)
		edited := make([]byte, 0, len(data)+len(snippet))
		edited = append(append(append(edited, data[:off]...), snippet...), data[off:]...)
		if err := os.WriteFile(p, edited, 0); err != nil {
			return fmt.Errorf("write edited file: %w", err)
		}
		if err := os.Chtimes(p, editTime, editTime); err != nil {
			return fmt.Errorf("set mtime of edited file: %w", err)
		}
	}
	for _, d := range e.Deleted {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(d))); err != nil {
			return fmt.Errorf("delete file: %w", err)
		}
	}
	for _, f := range e.Added {
		if err := f.write(root); err != nil {
			return err
		}
	}
	if e.RenameFrom != "" {
		from := filepath.Join(root, filepath.FromSlash(e.RenameFrom))
		to := filepath.Join(root, filepath.FromSlash(e.RenameTo))
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("rename dir: %w", err)
		}
	}
	return fixDirTimes(root, 0)
}

// String summarises the edits for the log.
func (e smallEdits) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "changed=%d deleted=%d added=%d renamed=%s->%s", len(e.Changed), len(e.Deleted), len(e.Added), e.RenameFrom, e.RenameTo)
	return b.String()
}
