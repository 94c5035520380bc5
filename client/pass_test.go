package client

import (
	"slices"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestSplitDeletes(t *testing.T) {
	e := func(p string) engine.Entry { return engine.Entry{Path: p} }
	plan := engine.Plan{
		Delete:  []engine.Entry{e("old/dir"), e("becomes-dir"), e("becomes-file"), e("a/b"), e("gone")},
		Mkdir:   []engine.Entry{e("becomes-dir")},
		Send:    []engine.FileChange{{Local: e("becomes-dir/x")}, {Local: e("becomes-file")}, {Local: e("moved/file")}},
		Symlink: []engine.Entry{e("a/b/c/link")},
	}
	early, late := splitDeletes(plan)
	paths := func(es []engine.Entry) []string {
		var out []string
		for _, x := range es {
			out = append(out, x.Path)
		}
		return out
	}
	if got, want := paths(early), []string{"becomes-dir", "becomes-file", "a/b"}; !slices.Equal(got, want) {
		t.Errorf("early deletes = %q, want %q", got, want)
	}
	if got, want := paths(late), []string{"old/dir", "gone"}; !slices.Equal(got, want) {
		t.Errorf("late deletes = %q, want %q", got, want)
	}
}
