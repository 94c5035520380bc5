package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTreeGuard(t *testing.T) {
	tests := []struct {
		name      string
		change    func(t *testing.T, dir string) // nil: none
		wantQuiet bool
	}{
		{"nothing changes", nil, true},
		{"a file is read", func(t *testing.T, dir string) {
			if _, err := os.ReadFile(filepath.Join(dir, "a/b/f")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a file is rewritten", func(t *testing.T, dir string) { writeFile(t, dir, "a/b/f", []byte("new")) }, false},
		{"a file is added deep down", func(t *testing.T, dir string) { writeFile(t, dir, "a/b/g", nil) }, false},
		{"a file's mode changes", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "a/b/f"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a file's mtime changes", func(t *testing.T, dir string) {
			if err := os.Chtimes(filepath.Join(dir, "top"), time.Time{}, time.Unix(1, 0)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a directory is renamed", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "a/b"), filepath.Join(dir, "a/c")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"an empty directory is removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "empty")); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a/b/f", []byte("old"))
			writeFile(t, dir, "top", []byte("top"))
			if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
			g := newTreeGuard(dir)
			if g == nil {
				t.Fatal("no inotify")
			}
			defer g.close()
			for _, rel := range []string{"", "a", "a/b", "empty"} {
				g.watch(rel)
			}
			if !g.quiet() {
				t.Fatal("not quiet before any change")
			}
			if tt.change != nil {
				tt.change(t, dir)
			}
			if got := g.quiet(); got != tt.wantQuiet {
				t.Errorf("quiet() = %v, want %v", got, tt.wantQuiet)
			}
		})
	}
}

func TestTreeGuardNeverQuietWhenIncomplete(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "file", nil)
	if err := os.Symlink(".", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"missing", "file", "link"} {
		t.Run(rel, func(t *testing.T) {
			g := newTreeGuard(dir)
			defer g.close()
			g.watch("")
			g.watch(rel)
			if g.quiet() {
				t.Errorf("quiet after failing to watch %q", rel)
			}
		})
	}
	t.Run("symlinked root", func(t *testing.T) {
		g := newTreeGuard(filepath.Join(dir, "link"))
		defer g.close()
		g.watch("")
		if !g.quiet() {
			t.Error("not quiet on a symlink to a directory as root")
		}
		writeFile(t, dir, "new", nil)
		if g.quiet() {
			t.Error("quiet after a change below a symlinked root")
		}
	})
	var nilGuard *treeGuard
	nilGuard.watch("")
	if nilGuard.quiet() {
		t.Error("a nil guard is quiet")
	}
	nilGuard.close()
	closed := newTreeGuard(dir)
	closed.watch("")
	closed.close()
	if closed.quiet() {
		t.Error("a closed guard is quiet")
	}
}
