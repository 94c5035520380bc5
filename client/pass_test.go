package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
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
	const big = defaultDeltaThreshold
	file := func(size int64) *engine.Entry { return &engine.Entry{Path: "f", Type: engine.TypeFile, Size: size} }
	cases := []struct {
		name   string
		sizes  map[int64]int // nil: a scoped pass
		size   int64
		remote *engine.Entry
		want   bool
	}{
		{"scoped pass, new file", nil, 10, nil, true},
		{"a server file has the size", map[int64]int{10: 1, 99: 1}, 10, nil, true},
		{"no server file has the size", map[int64]int{11: 1}, 10, nil, false},
		{"empty server", map[int64]int{}, 0, nil, false},
		{"small same-size copy: hash for the quick check", map[int64]int{10: 1}, 10, file(10), true},
		{"big same-size copy: the delta tells", map[int64]int{big: 1}, big, file(big), false},
		{"big same-size copy, scoped pass", nil, big, file(big), false},
		{"big same-size copy and another file of that size", map[int64]int{big: 2}, big, file(big), true},
		{"big, server copy of another size", map[int64]int{big + 1: 1}, big, file(big + 1), false},
		{"server has a directory there", map[int64]int{}, big, &engine.Entry{Path: "f", Type: engine.TypeDir}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &pass{c: &Client{deltaThreshold: defaultDeltaThreshold}, remoteSizes: tc.sizes}
			fc := engine.FileChange{Local: engine.Entry{Path: "f", Type: engine.TypeFile, Size: tc.size}, Remote: tc.remote}
			if got := p.needsHash(fc); got != tc.want {
				t.Errorf("needsHash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSummaryChanged(t *testing.T) {
	cases := []struct {
		sum  Summary
		want bool
	}{
		{Summary{}, false},
		{Summary{Unchanged: 5, Files: 5}, false},
		{Summary{Sent: 1}, true},
		{Summary{Deduplicated: 1}, true},
		{Summary{Deleted: 1}, true},
		{Summary{Directories: 1}, true},
		{Summary{Symlinks: 1}, true},
		{Summary{Metadata: 1}, true},
		{Summary{Failed: 1}, false}, // a failure changes nothing; callers check Failed
	}
	for _, tc := range cases {
		if got := tc.sum.Changed(); got != tc.want {
			t.Errorf("%+v.Changed() = %v, want %v", tc.sum, got, tc.want)
		}
	}
}

func TestApplyChangesParallelSplits(t *testing.T) {
	// Every change is answered exactly once, at its own index, however
	// the changes are split.
	for _, n := range []int{0, 1, minParallelChanges, 5*minParallelChanges + 3, 2500} {
		f := newFakeServer()
		c := f.serve(t, t.TempDir(), nil)
		changes := make([]*dirsyncv1.Change, n)
		for i := range changes {
			changes[i] = &dirsyncv1.Change{Action: &dirsyncv1.Change_Delete{Delete: fmt.Sprintf("gone%05d", i)}}
		}
		var mu sync.Mutex
		seen := make(map[int]string)
		err := c.applyChangesParallel(context.Background(), changes, 4, func(i int, r *dirsyncv1.ChangeResult) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[i]; dup {
				t.Errorf("n=%d: change %d answered twice", n, i)
			}
			seen[i] = r.GetPath()
		})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(seen) != n {
			t.Fatalf("n=%d: %d answers", n, len(seen))
		}
		for i, p := range seen {
			if want := fmt.Sprintf("gone%05d", i); p != want {
				t.Errorf("n=%d: answer %d is for %q, want %q", n, i, p, want)
			}
		}
	}
}

func TestSplitMkdir(t *testing.T) {
	dir := func(p string) engine.Entry { return engine.Entry{Path: p, Type: engine.TypeDir, Mode: 0o755} }
	file := func(p string) engine.FileChange {
		return engine.FileChange{Local: engine.Entry{Path: p, Type: engine.TypeFile, Mode: 0o644}}
	}
	tests := []struct {
		name         string
		plan         engine.Plan
		wantExplicit []string
		wantImplied  []string
	}{
		{"nothing to make", engine.Plan{Send: []engine.FileChange{file("a/f")}}, nil, nil},
		{
			"a file makes all its new parents",
			engine.Plan{Mkdir: []engine.Entry{dir("a"), dir("a/b"), dir("a/b/c")}, Send: []engine.FileChange{file("a/b/c/f")}},
			nil, []string{"a", "a/b", "a/b/c"},
		},
		{
			"empty directories are made first",
			engine.Plan{Mkdir: []engine.Entry{dir("a"), dir("a/empty"), dir("e")}, Send: []engine.FileChange{file("a/f")}},
			[]string{"a/empty", "e"}, []string{"a"},
		},
		{
			"a symlink makes its parents too",
			engine.Plan{Mkdir: []engine.Entry{dir("l")}, Symlink: []engine.Entry{{Path: "l/link", Type: engine.TypeSymlink, LinkTarget: "x"}}},
			nil, []string{"l"},
		},
		{
			"a sibling's name is no parent",
			engine.Plan{Mkdir: []engine.Entry{dir("ab")}, Send: []engine.FileChange{file("a/b"), file("abc")}},
			[]string{"ab"}, nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			explicit, implied := splitMkdir(tt.plan)
			var gotExplicit, gotImplied []string
			for _, e := range explicit {
				gotExplicit = append(gotExplicit, e.Path)
			}
			for p := range implied {
				gotImplied = append(gotImplied, p)
			}
			slices.Sort(gotImplied)
			if !slices.Equal(gotExplicit, tt.wantExplicit) || !slices.Equal(gotImplied, tt.wantImplied) {
				t.Errorf("explicit %q, implied %q; want %q, %q", gotExplicit, gotImplied, tt.wantExplicit, tt.wantImplied)
			}
		})
	}
}
