package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// scanTree is the tree that the scan tests build, as the manifest Scan
// should return. mtimes are set explicitly; symlink mtimes are not compared.
func scanTree() Manifest {
	return Manifest{
		{Path: "a", Type: TypeDir, Mode: 0o750},
		{Path: "a/b", Type: TypeDir, Mode: 0o2755},
		{Path: "a/b/f.txt", Type: TypeFile, Mode: 0o640, Size: 5},
		{Path: "a/empty", Type: TypeFile, Mode: 0o600},
		{Path: "a/rel", Type: TypeSymlink, LinkTarget: "b/f.txt"},
		{Path: "a/setuid", Type: TypeFile, Mode: 0o4755, Size: 2},
		{Path: "a-b", Type: TypeFile, Mode: 0o644, Size: 3},
		{Path: "abs", Type: TypeSymlink, LinkTarget: "/etc/passwd"},
		{Path: "dangling", Type: TypeSymlink, LinkTarget: "nope/none"},
		{Path: "dirlink", Type: TypeSymlink, LinkTarget: "a"},
		{Path: "emptydir", Type: TypeDir, Mode: 0o1777},
		{Path: "outlink", Type: TypeSymlink}, // target set by buildScanTree
		{Path: "unicode é 日本", Type: TypeFile, Mode: 0o644, Size: 1},
	}
}

// buildScanTree creates scanTree under a new temporary directory and
// returns the root and the expected manifest, mtimes filled in.
func buildScanTree(t *testing.T) (string, Manifest) {
	t.Helper()
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	content := map[string]string{"a/b/f.txt": "hello", "a/setuid": "#!", "a-b": "abc", "unicode é 日本": "u"}
	want := scanTree()
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range want {
		e := &want[i]
		abs := filepath.Join(root, filepath.FromSlash(e.Path))
		var err error
		switch e.Type {
		case TypeDir:
			err = os.Mkdir(abs, 0o700)
		case TypeFile:
			err = os.WriteFile(abs, []byte(content[e.Path]), 0o600)
		case TypeSymlink:
			if e.Path == "outlink" {
				e.LinkTarget = filepath.ToSlash(outside)
			}
			err = os.Symlink(filepath.FromSlash(e.LinkTarget), abs)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Set modes and times children first, since creating a child changes
	// a directory's mtime.
	for i := len(want) - 1; i >= 0; i-- {
		e := &want[i]
		if e.Type == TypeSymlink {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(e.Path))
		if err := os.Chmod(abs, FileMode(e.Mode)); err != nil {
			t.Fatal(err)
		}
		mtime := base.Add(time.Duration(i)*time.Hour + time.Duration(i)*time.Microsecond)
		if err := os.Chtimes(abs, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		e.MtimeNs = mtime.UnixNano()
	}
	return root, want
}

// sameTree reports the differences between two manifests, ignoring the
// mode and mtime of symlinks.
func sameTree(t *testing.T, what string, got, want Manifest) {
	t.Helper()
	if g, w := treePaths(got), treePaths(want); !slices.Equal(g, w) {
		t.Fatalf("%s paths = %q, want %q", what, g, w)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Type == TypeSymlink {
			g.Mode, g.MtimeNs, w.Mode, w.MtimeNs = 0, 0, 0, 0
		}
		if g != w {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}

func TestScan(t *testing.T) {
	root, want := buildScanTree(t)
	for _, tt := range []struct {
		name string
		opts ScanOptions
	}{
		{"by path", ScanOptions{}},
		{"contained", ScanOptions{Contained: true}},
		{"by path, 4 workers", ScanOptions{Workers: 4}},
		{"contained, 4 workers", ScanOptions{Contained: true, Workers: 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := Scan(root, tt.opts)
			if err != nil {
				t.Fatalf("Scan() error = %v", err)
			}
			if len(errs) != 0 {
				t.Errorf("Scan() scan errors = %v, want none", errs)
			}
			sameTree(t, "Scan()", got, want)
			if err := got.Validate(); err != nil {
				t.Errorf("Scan().Validate() = %v", err)
			}
		})
	}
}

// TestScanWorkersMatchOneGoroutine scans a wide and deep tree with and
// without workers, skipping some of it, and wants the same manifest.
func TestScanWorkersMatchOneGoroutine(t *testing.T) {
	root := t.TempDir()
	for i := range 60 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%12), fmt.Sprintf("s%d", i%5), fmt.Sprintf("t%02d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", j)), bytes.Repeat([]byte{'x'}, i+j), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "skip.tmp"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	skip := func(rel string, _ bool) bool { return strings.HasSuffix(rel, ".tmp") || strings.HasSuffix(rel, "/s3") }
	for _, contained := range []bool{false, true} {
		one, oneErrs, err := Scan(root, ScanOptions{Skip: skip, Contained: contained})
		if err != nil {
			t.Fatal(err)
		}
		many, manyErrs, err := Scan(root, ScanOptions{Skip: skip, Contained: contained, Workers: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(one) < 200 || !slices.Equal(one, many) || len(oneErrs) != 0 || len(manyErrs) != 0 {
			t.Errorf("contained %v: %d entries on one goroutine, %d with workers (equal: %v); errors %v, %v",
				contained, len(one), len(many), slices.Equal(one, many), oneErrs, manyErrs)
		}
	}
}

func TestScanRootSymlink(t *testing.T) {
	root, want := buildScanTree(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	got, _, err := Scan(link, ScanOptions{})
	if err != nil {
		t.Fatalf("Scan(symlink to root) error = %v", err)
	}
	sameTree(t, "Scan(symlink to root)", got, want)
}

func TestScanBadRoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{file, filepath.Join(dir, "missing")} {
		if _, _, err := Scan(root, ScanOptions{}); err == nil {
			t.Errorf("Scan(%q) error = nil, want an error", root)
		}
		if _, _, err := ScanPath(root, "x", ScanOptions{}); err == nil {
			t.Errorf("ScanPath(%q, \"x\") error = nil, want an error", root)
		}
	}
}

func TestScanSkip(t *testing.T) {
	root, want := buildScanTree(t)
	seen := map[string]bool{}
	opts := ScanOptions{Skip: func(rel string, isDir bool) bool {
		if _, dup := seen[rel]; dup {
			t.Errorf("Skip(%q) called twice", rel)
		}
		seen[rel] = isDir
		return rel == "a/b" || rel == "a-b" || rel == "dangling"
	}}
	got, errs, err := Scan(root, opts)
	if err != nil || len(errs) != 0 {
		t.Fatalf("Scan() = %v, %v", errs, err)
	}
	want = slices.DeleteFunc(want, func(e Entry) bool {
		return IsWithin(e.Path, "a/b") || e.Path == "a-b" || e.Path == "dangling"
	})
	sameTree(t, "Scan(skip)", got, want)
	for _, p := range []string{"a", "a/b", "emptydir"} {
		if !seen[p] {
			t.Errorf("Skip(%q, isDir) = %v, want true", p, seen[p])
		}
	}
	for _, p := range []string{"dirlink", "a-b", "a/empty"} {
		if isDir, ok := seen[p]; !ok || isDir {
			t.Errorf("Skip(%q) called %v with isDir %v, want called with false", p, ok, isDir)
		}
	}
	if _, ok := seen["a/b/f.txt"]; ok {
		t.Errorf("Skip(%q) called inside a skipped directory", "a/b/f.txt")
	}
}

func TestScanPath(t *testing.T) {
	root, want := buildScanTree(t)
	without := func(m Manifest, dir string) Manifest {
		return slices.DeleteFunc(slices.Clone(m), func(e Entry) bool { return IsWithin(e.Path, dir) })
	}
	tests := []struct {
		name string
		rel  string
		skip string
		want Manifest
	}{
		{"file", "a/b/f.txt", "", want.Subtree("a/b/f.txt")},
		{"dir", "a", "", want.Subtree("a")},
		{"nested dir", "a/b", "", want.Subtree("a/b")},
		{"empty dir", "emptydir", "", want.Subtree("emptydir")},
		{"symlink to dir", "dirlink", "", want.Subtree("dirlink")},
		{"missing", "zzz", "", nil},
		{"missing in dir", "a/zzz", "", nil},
		{"below a file", "a-b/x", "", nil},
		{"through a symlink", "dirlink/b/f.txt", "", nil},
		{"through an outside symlink", "outlink/secret", "", nil},
		{"skipped", "a/b", "a/b", nil},
		{"skipped ancestor", "a/b/f.txt", "a", nil},
		{"skipped child", "a", "a/b", without(want.Subtree("a"), "a/b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ScanOptions{Skip: func(rel string, isDir bool) bool { return rel == tt.skip }}
			got, errs, err := ScanPath(root, tt.rel, opts)
			if err != nil || len(errs) != 0 {
				t.Fatalf("ScanPath(%q) = %v, %v", tt.rel, errs, err)
			}
			if got == nil {
				t.Errorf("ScanPath(%q) = nil, want a non-nil manifest", tt.rel)
			}
			sameTree(t, "ScanPath("+tt.rel+")", got, tt.want)
		})
	}
}

func TestScanPathInvalid(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"", "../x", "/etc", "a/../b", "a//b"} {
		_, _, err := ScanPath(root, rel, ScanOptions{})
		if !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ScanPath(%q) error = %v, want ErrInvalidPath", rel, err)
		}
	}
}

func TestScanErrorUnwrap(t *testing.T) {
	e := ScanError{Path: "a/b", Err: fs.ErrPermission}
	if !errors.Is(e, fs.ErrPermission) {
		t.Errorf("errors.Is(%v, fs.ErrPermission) = false", e)
	}
	var target ScanError
	var err error = e
	if !errors.As(err, &target) || target.Path != "a/b" {
		t.Errorf("errors.As(%v) = %+v", err, target)
	}
	if got, want := e.Error(), `scan "a/b": permission denied`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestHashFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), hashBufferSize/8+7)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"buffer size", big[:hashBufferSize]},
		{"larger than buffer", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			sum, size, err := HashFile(p)
			if err != nil {
				t.Fatalf("HashFile(%q) error = %v", tt.name, err)
			}
			if want := sha256.Sum256(tt.data); sum != want || size != int64(len(tt.data)) {
				t.Errorf("HashFile(%q) = %x, %d, want %x, %d", tt.name, sum, size, want, len(tt.data))
			}
		})
	}
	if _, _, err := HashFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("HashFile(missing) error = %v, want fs.ErrNotExist", err)
	}
}
