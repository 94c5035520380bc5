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

func TestNeedsHash(t *testing.T) {
	cases := []struct {
		name  string
		sizes map[int64]bool // nil: a scoped pass
		size  int64
		want  bool
	}{
		{"scoped pass hashes everything", nil, 10, true},
		{"a server file has the size", map[int64]bool{10: true, 99: true}, 10, true},
		{"no server file has the size", map[int64]bool{11: true}, 10, false},
		{"empty server", map[int64]bool{}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &pass{remoteSizes: tc.sizes}
			if got := p.needsHash(engine.Entry{Path: "f", Size: tc.size}); got != tc.want {
				t.Errorf("needsHash = %v, want %v", got, tc.want)
			}
		})
	}
}
