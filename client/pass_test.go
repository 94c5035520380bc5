package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

func TestSubtreeParts(t *testing.T) {
	entries := func(paths ...string) []engine.Entry {
		var out []engine.Entry
		for _, p := range paths {
			out = append(out, engine.Entry{Path: p})
		}
		return out
	}
	// tree returns, deepest first as metaOrder sorts them, the entries of
	// top-level directories named by sizes: "a" with sizes["a"] entries
	// below it, and so on.
	tree := func(sizes map[string]int) []engine.Entry {
		var ps []string
		for top, n := range sizes {
			ps = append(ps, top)
			for i := range n {
				ps = append(ps, fmt.Sprintf("%s/d%d/x", top, i))
			}
		}
		return metaOrder(entries(ps...))
	}
	cases := []struct {
		name      string
		entries   []engine.Entry
		n         int
		wantParts int
	}{
		{"none", nil, 4, 1},
		{"one worker", tree(map[string]int{"a": 40, "b": 40}), 1, 1},
		{"one subtree", tree(map[string]int{"a": 200}), 4, 1},
		{"few entries", tree(map[string]int{"a": 5, "b": 5, "c": 5}), 4, 1},
		{"two subtrees", tree(map[string]int{"a": 40, "b": 40}), 4, 2},
		{"many subtrees", tree(map[string]int{"a": 30, "b": 20, "c": 20, "d": 10, "e": 10, "f": 5, "g": 1}), 4, 4},
		{"files at the top", append(tree(map[string]int{"a": 40, "b": 40}), entries("top1", "top2")...), 4, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts := subtreeParts(tc.entries, tc.n, minParallelChanges)
			if len(parts) != tc.wantParts {
				t.Fatalf("%d parts, want %d", len(parts), tc.wantParts)
			}
			pos := map[string]int{}
			for i, e := range tc.entries {
				pos[e.Path] = i
			}
			partOf := map[string]int{}
			total := 0
			for k, part := range parts {
				total += len(part)
				for j, e := range part {
					top, _, _ := strings.Cut(e.Path, "/")
					if other, ok := partOf[top]; ok && other != k {
						t.Errorf("subtree %q is split between parts %d and %d", top, other, k)
					}
					partOf[top] = k
					// An entry never comes after one of its ancestors, and
					// a subtree keeps the input's order.
					for _, before := range part[:j] {
						if engine.IsWithin(e.Path, before.Path) {
							t.Errorf("part %d: %q before its descendant %q", k, before.Path, e.Path)
						}
						if bt, _, _ := strings.Cut(before.Path, "/"); bt == top && pos[before.Path] > pos[e.Path] {
							t.Errorf("part %d: %q before %q, against the input's order", k, before.Path, e.Path)
						}
					}
				}
			}
			if total != len(tc.entries) {
				t.Errorf("%d entries in the parts, want %d", total, len(tc.entries))
			}
			if tc.wantParts > 1 {
				sizes := make([]int, len(parts))
				for k := range parts {
					sizes[k] = len(parts[k])
				}
				if slices.Max(sizes) > 2*slices.Min(sizes)+31 {
					t.Errorf("unbalanced parts: %v", sizes)
				}
			}
		})
	}
}
