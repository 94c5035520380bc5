package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"
)

// baseTime is the earliest modification time the datasets use.
var baseTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// year bounds the spread of generated modification times.
const year = 365 * 24 * time.Hour

// smallTree is the plan of the small dataset: every directory, file and
// symlink with its metadata. planSmall derives it from a seed alone, so the
// same seed always yields the same tree.
type smallTree struct {
	// Dirs lists the directories below the root, parents before children.
	Dirs  []smallDir
	Files []smallFile
	Links []smallLink
}

// smallDir is one planned directory. Empty directories get no files.
type smallDir struct {
	Path  string // slash-separated, relative to the root
	Depth int    // 1 for a child of the root
	Mode  fs.FileMode
	Empty bool
}

// smallFile is one planned regular file. Its content is drawn from Seed.
type smallFile struct {
	Path  string
	Size  int64
	Seed  uint64
	Mode  fs.FileMode
	Mtime time.Time
}

// smallLink is one planned symlink with a relative target.
type smallLink struct {
	Path   string
	Target string
}

var (
	dirStems  = []string{"src", "pkg", "internal", "cmd", "lib", "docs", "test", "api", "core", "model", "net", "store", "ui", "tools"}
	fileStems = []string{"main", "util", "handler", "types", "config", "server", "client", "parse", "README", "index", "helpers", "errors"}
	fileExts  = []string{".go", ".c", ".h", ".md", ".txt", ".json", ".py", ".rs", ".yaml", ""}
)

// planSmall plans a tree of nFiles files in nDirs directories nested at most
// maxDepth deep, with log-uniform sizes in [minSize, maxSize], about 1% empty
// files, about 2% empty directories and one symlink per thousand files.
func planSmall(nFiles, nDirs, maxDepth int, minSize, maxSize int64, seed uint64) smallTree {
	r := rand.New(rand.NewPCG(seed, 0x736d616c6c))
	var t smallTree
	// parents holds candidate parents: the root (index -1) and every
	// directory not yet at maxDepth.
	children := make([]int, nDirs)
	for i := range nDirs {
		parent := -1
		for {
			parent = r.IntN(len(t.Dirs)+1) - 1
			if parent < 0 || t.Dirs[parent].Depth < maxDepth {
				break
			}
		}
		name := fmt.Sprintf("%s%04d", dirStems[r.IntN(len(dirStems))], i)
		d := smallDir{Path: name, Depth: 1, Mode: 0o755}
		if parent >= 0 {
			d.Path = t.Dirs[parent].Path + "/" + name
			d.Depth = t.Dirs[parent].Depth + 1
			children[parent]++
		}
		if r.IntN(30) == 0 {
			d.Mode = 0o750
		}
		t.Dirs = append(t.Dirs, d)
	}
	// Empty directories are leaves chosen at random.
	wantEmpty := max(1, nDirs/50)
	for _, i := range r.Perm(nDirs) {
		if wantEmpty == 0 {
			break
		}
		if children[i] == 0 {
			t.Dirs[i].Empty = true
			wantEmpty--
		}
	}
	homes := []string{""}
	for _, d := range t.Dirs {
		if !d.Empty {
			homes = append(homes, d.Path)
		}
	}
	for i := range nFiles {
		dir := homes[r.IntN(len(homes))]
		name := fmt.Sprintf("%s_%05d%s", fileStems[r.IntN(len(fileStems))], i, fileExts[r.IntN(len(fileExts))])
		t.Files = append(t.Files, newSmallFile(r, path.Join(dir, name), minSize, maxSize))
	}
	for i := range max(1, nFiles/1000) {
		dir := homes[r.IntN(len(homes))]
		target := t.Files[r.IntN(len(t.Files))].Path
		rel, err := filepath.Rel(filepath.FromSlash("/"+dir), filepath.FromSlash("/"+target))
		if err != nil {
			rel = "dangling"
		}
		t.Links = append(t.Links, smallLink{Path: path.Join(dir, fmt.Sprintf("link_%03d", i)), Target: filepath.ToSlash(rel)})
	}
	return t
}

// newSmallFile draws the size, mode, mtime and content seed of a file.
func newSmallFile(r *rand.Rand, p string, minSize, maxSize int64) smallFile {
	f := smallFile{Path: p, Seed: r.Uint64(), Mode: 0o644}
	if r.IntN(100) != 0 {
		lo, hi := math.Log(float64(minSize)), math.Log(float64(maxSize))
		f.Size = int64(math.Exp(lo + r.Float64()*(hi-lo)))
	}
	switch r.IntN(40) {
	case 0:
		f.Mode = 0o755
	case 1:
		f.Mode = 0o600
	}
	f.Mtime = baseTime.Add(time.Duration(r.Int64N(int64(year))))
	return f
}

// content returns the file's text-like content.
func (f smallFile) content() []byte {
	return textBytes(rand.New(rand.NewPCG(f.Seed, 0x66696c65)), f.Size)
}

// write creates the file under root with its content, mode and mtime.
func (f smallFile) write(root string) error {
	p := filepath.Join(root, filepath.FromSlash(f.Path))
	if err := os.WriteFile(p, f.content(), f.Mode); err != nil {
		return fmt.Errorf("write small file: %w", err)
	}
	if err := os.Chmod(p, f.Mode); err != nil {
		return fmt.Errorf("chmod small file: %w", err)
	}
	if err := os.Chtimes(p, f.Mtime, f.Mtime); err != nil {
		return fmt.Errorf("set mtime of small file: %w", err)
	}
	return nil
}

// writeSmall creates the planned tree under root, which must not exist.
func writeSmall(ctx context.Context, root string, t smallTree) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return fmt.Errorf("create small root: %w", err)
	}
	for _, d := range t.Dirs {
		p := filepath.Join(root, filepath.FromSlash(d.Path))
		if err := os.Mkdir(p, d.Mode); err != nil {
			return fmt.Errorf("create small dir: %w", err)
		}
		if err := os.Chmod(p, d.Mode); err != nil {
			return fmt.Errorf("chmod small dir: %w", err)
		}
	}
	for i, f := range t.Files {
		if i%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := f.write(root); err != nil {
			return err
		}
	}
	for _, l := range t.Links {
		if err := os.Symlink(l.Target, filepath.Join(root, filepath.FromSlash(l.Path))); err != nil {
			return fmt.Errorf("create symlink: %w", err)
		}
	}
	return fixDirTimes(root, 0)
}

// fixDirTimes gives every directory under root, root included, an mtime
// derived from its path and salt, deepest first, so that generated trees
// are deterministic despite the writes that touched their directories.
func fixDirTimes(root string, salt uint64) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", root, err)
	}
	for _, p := range slices.Backward(dirs) {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", p, err)
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", salt, filepath.ToSlash(rel))
		t := baseTime.Add(time.Duration(h.Sum64() % uint64(year)))
		if err := os.Chtimes(p, t, t); err != nil {
			return fmt.Errorf("set mtime of dir: %w", err)
		}
	}
	return nil
}
