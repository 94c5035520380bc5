package engine

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// ScanOptions tunes [Scan] and [ScanPath]. The zero value scans everything.
type ScanOptions struct {
	// Skip, if set, is called with each relative path and whether it is a
	// directory (a symlink to a directory is not one); true leaves the
	// entry, and a directory's contents, out of the manifest. Skip is
	// called from the scanning goroutine only.
	Skip func(rel string, isDir bool) bool
}

// skip reports whether the options leave rel out.
func (o ScanOptions) skip(rel string, isDir bool) bool {
	return o.Skip != nil && o.Skip(rel, isDir)
}

// ScanError records a failure on one item of a scan: an unreadable
// directory, an item that vanished halfway, an unsupported type (wrapping
// [ErrUnsupportedType]) or a name that cannot travel on the wire (wrapping
// [ErrInvalidPath]). The scan goes on without the item.
type ScanError struct {
	// Path is the item's slash-separated path relative to the root.
	Path string
	// Err is the underlying error.
	Err error
}

// Error returns the path and the underlying error.
func (e ScanError) Error() string {
	return fmt.Sprintf("scan %q: %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e ScanError) Unwrap() error {
	return e.Err
}

// Scan walks the tree under root and returns its manifest, sorted, and the
// items it had to leave out. root itself must be a directory (a symlink to
// one is resolved); inside it, symlinks are listed as such and never
// followed. Files are not hashed. Paths are slash-separated and relative to
// root.
//
// A failure on one item does not stop the walk: it goes into the returned
// []ScanError and the item is left out. A directory whose contents cannot
// be read is still listed, with what could be read of its contents; callers
// that delete what a scan does not list must not delete below a path with a
// ScanError. The error is non-nil only if root cannot be scanned at all.
func Scan(root string, opts ScanOptions) (Manifest, []ScanError, error) {
	if err := checkRoot(root); err != nil {
		return nil, nil, err
	}
	var s scanner
	s.opts = opts
	s.root = root
	s.walk("")
	s.m.Sort()
	return s.m, s.errs, nil
}

// ScanPath scans a single path rel below root: the entry for rel and, if it
// is a directory, everything below it, like the part of [Scan]'s result
// that is [IsWithin] rel. If rel does not exist (it was deleted), if one of
// its ancestors is not a directory, or if Skip leaves out rel or one of its
// ancestors, it returns an empty manifest and no error. Watch mode uses it
// to rescan only the paths that changed. The error is non-nil if rel is not
// valid (see [ValidatePath]) or root cannot be scanned.
func ScanPath(root, rel string, opts ScanOptions) (Manifest, []ScanError, error) {
	if err := ValidatePath(rel); err != nil {
		return nil, nil, fmt.Errorf("scan path: %w", err)
	}
	if err := checkRoot(root); err != nil {
		return nil, nil, err
	}
	var s scanner
	s.opts = opts
	s.root = root
	// Check the ancestors one by one with lstat, so that a symlink on the
	// way is never followed.
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		dir := rel[:i]
		info, err := os.Lstat(s.abs(dir))
		if err != nil {
			if gone(err) {
				return Manifest{}, nil, nil
			}
			return Manifest{}, []ScanError{{Path: dir, Err: err}}, nil
		}
		if !info.IsDir() || opts.skip(dir, true) {
			return Manifest{}, nil, nil
		}
	}
	s.visit(rel)
	s.m.Sort()
	if s.m == nil {
		s.m = Manifest{}
	}
	return s.m, s.errs, nil
}

// checkRoot makes sure root is a directory.
func checkRoot(root string) error {
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("scan root: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("scan root %q: not a directory", root)
	}
	return nil
}

// scanner holds the state of one walk.
type scanner struct {
	root string
	opts ScanOptions
	m    Manifest
	errs []ScanError
}

// abs returns the file system path of rel.
func (s *scanner) abs(rel string) string {
	if rel == "" {
		return s.root
	}
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

// fail records a failure on rel, unless rel merely vanished.
func (s *scanner) fail(rel string, err error) {
	if gone(err) {
		return
	}
	s.errs = append(s.errs, ScanError{Path: rel, Err: err})
}

// walk lists the contents of the directory rel ("" for the root),
// recursively.
func (s *scanner) walk(dir string) {
	f, err := os.Open(s.abs(dir))
	if err != nil {
		s.fail(dir, err)
		return
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		// Keep what could be read.
		s.fail(dir, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, d := range ents {
		rel := d.Name()
		if dir != "" {
			rel = dir + "/" + rel
		}
		if s.opts.skip(rel, d.IsDir()) {
			continue
		}
		s.add(rel)
	}
}

// visit lists rel after asking Skip about it.
func (s *scanner) visit(rel string) {
	info, err := os.Lstat(s.abs(rel))
	if err != nil {
		s.fail(rel, err)
		return
	}
	if s.opts.skip(rel, info.IsDir()) {
		return
	}
	s.addInfo(rel, info)
}

// add lists rel, which Skip has already let through.
func (s *scanner) add(rel string) {
	info, err := os.Lstat(s.abs(rel))
	if err != nil {
		s.fail(rel, err)
		return
	}
	s.addInfo(rel, info)
}

// addInfo lists rel, described by its lstat info, and a directory's
// contents.
func (s *scanner) addInfo(rel string, info fs.FileInfo) {
	var target string
	if info.Mode().Type() == fs.ModeSymlink {
		t, err := os.Readlink(s.abs(rel))
		if err != nil {
			s.fail(rel, err)
			return
		}
		target = filepath.ToSlash(t)
	}
	e, err := EntryFromInfo(rel, info, target)
	if err != nil {
		s.fail(rel, err)
		return
	}
	if err := checkEntry(e); err != nil {
		s.fail(rel, err)
		return
	}
	s.m = append(s.m, e)
	if e.Type == TypeDir {
		s.walk(rel)
	}
}

// gone reports whether err means the item no longer exists, or that a
// component on its way stopped being a directory: both mean the item was
// removed while the scan ran.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// hashBufferSize is the size of the buffer HashFile reads through: large
// enough to keep system calls rare, small enough to keep per-call memory
// flat.
const hashBufferSize = 64 << 10

// HashFile returns the SHA-256 and size of the file at path, reading it
// through a fixed buffer so that memory use does not grow with the file.
// It opens path with os.Open, which follows symlinks.
func HashFile(path string) (sum [32]byte, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, fmt.Errorf("hash file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, hashBufferSize)
	for {
		n, rerr := f.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sum, 0, fmt.Errorf("hash file: %w", rerr)
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, size, nil
}
