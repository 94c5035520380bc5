package main

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestSmallTreeDeterministic writes a tiny tree and its edits twice from
// the same seed and checks the two are identical, metadata included, and
// that a different seed gives a different tree.
func TestSmallTreeDeterministic(t *testing.T) {
	build := func(dir string, seed uint64) (v0, v1 string) {
		t.Helper()
		tree := planSmall(60, 12, 5, 100, 4096, seed)
		v0, v1 = filepath.Join(dir, "v0"), filepath.Join(dir, "v1")
		if err := writeSmall(t.Context(), v0, tree); err != nil {
			t.Fatal(err)
		}
		if err := copyTree(v0, v1); err != nil {
			t.Fatal(err)
		}
		if err := applySmallEdits(v1, planSmallEdits(tree, 100, 4096, seed+1)); err != nil {
			t.Fatal(err)
		}
		return v0, v1
	}
	a0, a1 := build(t.TempDir(), 7)
	b0, b1 := build(t.TempDir(), 7)
	for _, pair := range [][2]string{{a0, b0}, {a1, b1}} {
		v, err := compareTrees(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK() {
			t.Errorf("same seed, different trees %s and %s: %v", pair[0], pair[1], v.Diffs)
		}
	}
	if v, err := compareTrees(a0, a1); err != nil || v.OK() {
		t.Errorf("edits changed nothing (err %v)", err)
	}
	c0, _ := build(t.TempDir(), 8)
	if v, err := compareTrees(a0, c0); err != nil || v.OK() {
		t.Errorf("seeds 7 and 8 gave the same tree (err %v)", err)
	}
}

func TestPlanSmallShape(t *testing.T) {
	tree := planSmall(2000, 100, 5, 100, 64<<10, 1)
	if len(tree.Files) != 2000 || len(tree.Dirs) != 100 {
		t.Fatalf("planSmall: %d files in %d dirs, want 2000 in 100", len(tree.Files), len(tree.Dirs))
	}
	var empty, emptyDirs int
	for _, f := range tree.Files {
		if f.Size == 0 {
			empty++
		}
		if f.Size > 64<<10 {
			t.Errorf("%s: size %d over the maximum", f.Path, f.Size)
		}
	}
	for _, d := range tree.Dirs {
		if d.Depth > 5 {
			t.Errorf("%s: depth %d over 5", d.Path, d.Depth)
		}
		if d.Empty {
			emptyDirs++
		}
	}
	if empty == 0 || emptyDirs == 0 {
		t.Errorf("planSmall: %d empty files, %d empty dirs; want some of each", empty, emptyDirs)
	}
	if !reflect.DeepEqual(tree, planSmall(2000, 100, 5, 100, 64<<10, 1)) {
		t.Error("planSmall is not deterministic")
	}
}
