package client

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// TestSyncRootMetadata checks that a pass gives the server's root the
// local root's mode and mtime, after the changes that move it, and that
// a pass with nothing to do leaves it alone.
func TestSyncRootMetadata(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", []byte("a"))
	mtime := time.Date(2019, 2, 3, 4, 5, 6, 7, time.UTC)
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	steps := []struct {
		name     string
		change   func()
		wantMeta int
	}{
		{"first pass", func() {}, 1},
		{"nothing to do", func() {}, 0},
		{"root chmod", func() { os.Chmod(dir, 0o700) }, 1},
		{"root mtime after a new file", func() { writeFile(t, dir, "b.txt", []byte("b")) }, 1},
	}
	for _, s := range steps {
		s.change()
		sum, err := c.SyncOnce(context.Background())
		if err != nil {
			t.Fatalf("%s: SyncOnce: %v", s.name, err)
		}
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		root := f.root
		f.mu.Unlock()
		if root.Mode != engine.ModeBits(info.Mode()) || root.MtimeNs != info.ModTime().UnixNano() {
			t.Errorf("%s: server root mode %#o mtime %d, want %#o %d", s.name, root.Mode, root.MtimeNs, engine.ModeBits(info.Mode()), info.ModTime().UnixNano())
		}
		if sum.Metadata != s.wantMeta {
			t.Errorf("%s: %d metadata changes, want %d", s.name, sum.Metadata, s.wantMeta)
		}
	}
}

func TestTouchesRoot(t *testing.T) {
	top, deep := engine.Entry{Path: "a"}, engine.Entry{Path: "d/a"}
	tests := []struct {
		name string
		plan engine.Plan
		want bool
	}{
		{"empty", engine.Plan{}, false},
		{"deep changes only", engine.Plan{Delete: []engine.Entry{deep}, Mkdir: []engine.Entry{deep}, Symlink: []engine.Entry{deep},
			Special: []engine.Entry{deep}, Link: []engine.Entry{deep}, Send: []engine.FileChange{{Local: deep}}, SetMeta: []engine.Entry{top}}, false},
		{"top delete", engine.Plan{Delete: []engine.Entry{top}}, true},
		{"top mkdir", engine.Plan{Mkdir: []engine.Entry{top}}, true},
		{"top file", engine.Plan{Send: []engine.FileChange{{Local: top}}}, true},
		{"top symlink", engine.Plan{Symlink: []engine.Entry{top}}, true},
		{"top fifo", engine.Plan{Special: []engine.Entry{top}}, true},
		{"top hard link", engine.Plan{Link: []engine.Entry{top}}, true},
	}
	for _, tt := range tests {
		if got := touchesRoot(tt.plan); got != tt.want {
			t.Errorf("touchesRoot(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
