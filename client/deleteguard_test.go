package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/engine"
)

func TestCheckDeletes(t *testing.T) {
	const floor = AutoDeleteFloor
	cases := []struct {
		name      string
		opts      Options
		n, total  int
		recent    int // lost by earlier passes within the window
		empties   bool
		moved     bool   // everything deleted is made again elsewhere
		wantHold  string // part of the reason; "" for no hold
		needTotal bool
	}{
		{"nothing to delete", Options{}, 0, 100, 0, true, false, "", false},
		{"empties the tree", Options{}, 3, 3, 0, true, false, "empty the server's tree", false},
		{"empties one entry", Options{}, 1, 1, 0, true, false, "empty the server's tree", false},
		{"empties, allowed", Options{AllowEmpty: true}, 500, 500, 0, true, false, "", false},
		{"empties, allowed, but over an explicit bound", Options{AllowEmpty: true, MaxDelete: 100}, 500, 500, 0, true, false, "--max-delete 100", false},
		{"empties, unlimited is not enough", Options{MaxDelete: MaxDeleteUnlimited}, 5, 5, 0, true, false, "empty the server's tree", false},
		{"scoped pass that may empty", Options{}, 1, -1, 0, true, false, "", true},
		{"at the floor", Options{}, floor, floor + 1, 0, false, false, "", false},
		{"over the floor, over half", Options{}, floor + 1, 2*floor + 1, 0, false, false, "more than half", false},
		{"over the floor, exactly half", Options{}, floor + 1, 2*floor + 2, 0, false, false, "", false},
		{"over the floor, scoped", Options{}, floor + 1, -1, 0, false, false, "", true},
		{"over the floor, over half, but moved", Options{}, floor + 1, 2*floor + 1, 0, false, true, "", false},
		{"moved, but over an explicit bound", Options{MaxDelete: 5}, 6, 100, 0, false, true, "--max-delete 5", false},
		{"unlimited", Options{MaxDelete: MaxDeleteUnlimited}, 1000, 1001, 0, false, false, "", false},
		{"none", Options{MaxDelete: MaxDeleteNone}, 1, 1000, 0, false, false, "forbids", false},
		{"explicit bound, within", Options{MaxDelete: 50}, 50, 51, 0, false, false, "", false},
		{"explicit bound, over", Options{MaxDelete: 50}, 51, 1000, 0, false, false, "--max-delete 50", false},
		{"explicit bound, scoped", Options{MaxDelete: 50}, 51, -1, 0, false, false, "--max-delete 50", false},
		{"small, but with recent deletions over half", Options{}, 5, 30, 30, false, false, "in the last", false},
		{"small, recent deletions under half", Options{}, 5, 100, 20, false, false, "", false},
		{"small, recent deletions, scoped", Options{}, 5, -1, 30, false, false, "", true},
		{"recent deletions, this pass loses nothing", Options{}, 5, 30, 30, false, true, "", false},
		{"recent deletions, explicit bound rules", Options{MaxDelete: 50}, 5, 1000, 10, false, false, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lost := tc.n
			if tc.moved {
				lost = 0
			}
			hold, needTotal := tc.opts.checkDeletes(tc.n, lost, tc.recent, tc.total, tc.empties)
			if needTotal != tc.needTotal {
				t.Errorf("needTotal = %v, want %v", needTotal, tc.needTotal)
			}
			switch {
			case tc.wantHold == "" && hold != nil:
				t.Errorf("held: %s", hold.Reason)
			case tc.wantHold != "" && hold == nil:
				t.Errorf("not held, want %q", tc.wantHold)
			case hold != nil && !strings.Contains(hold.Reason, tc.wantHold):
				t.Errorf("reason %q, want it to contain %q", hold.Reason, tc.wantHold)
			case hold != nil && (hold.Entries != tc.n || hold.Hint == ""):
				t.Errorf("hold = %+v, want %d entries and a hint", hold, tc.n)
			}
		})
	}
}

func TestCountDeleted(t *testing.T) {
	e := func(p string) engine.Entry { return engine.Entry{Path: p} }
	remote := engine.Manifest{e("a"), e("a/b"), e("a/b/c"), e("ab"), e("d"), e("e"), e("e/f")}
	cases := []struct {
		dels []string
		want int
	}{
		{nil, 0},
		{[]string{"d"}, 1},
		{[]string{"a"}, 3}, // not "ab"
		{[]string{"a/b", "e"}, 4},
		{[]string{"missing"}, 0},
	}
	for _, tc := range cases {
		var dels []engine.Entry
		for _, d := range tc.dels {
			dels = append(dels, e(d))
		}
		if got := countDeleted(dels, remote); got != tc.want {
			t.Errorf("countDeleted(%q) = %d, want %d", tc.dels, got, tc.want)
		}
	}
}

func TestWithoutDeletes(t *testing.T) {
	e := func(p string) engine.Entry { return engine.Entry{Path: p} }
	plan := engine.Plan{
		Delete:  []engine.Entry{e("gone"), e("was-file")},
		Mkdir:   []engine.Entry{e("was-file"), e("new")},
		Send:    []engine.FileChange{{Local: e("was-file/x")}, {Local: e("new/y")}},
		Symlink: []engine.Entry{e("was-file/l"), e("link")},
		Link: []engine.Entry{{Path: "was-file/h", HardlinkTarget: "new/y"}, {Path: "h1", HardlinkTarget: "was-file/x"},
			{Path: "h2", HardlinkTarget: "new/y"}},
		SetMeta: []engine.Entry{e("was-file"), e("new")},
	}
	got := withoutDeletes(plan)
	var paths []string
	for _, x := range got.Mkdir {
		paths = append(paths, x.Path)
	}
	for _, x := range got.Send {
		paths = append(paths, x.Local.Path)
	}
	for _, x := range append(append(got.Symlink, got.Link...), got.SetMeta...) {
		paths = append(paths, x.Path)
	}
	if want := []string{"new", "new/y", "link", "h2", "new"}; len(got.Delete) != 0 || !slices.Equal(paths, want) {
		t.Errorf("withoutDeletes kept deletions %v and %q, want none and %q", got.Delete, paths, want)
	}
}

// TestSyncHoldsMassDeletion checks that a pass whose deletions would
// empty the server's tree, or remove most of it, sends none of them but
// sends its other changes, and that the options that allow them do.
func TestSyncHoldsMassDeletion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keep     int // files left of 20
		opts     func(*Options)
		wantHeld int
	}{
		{"emptied", 0, nil, 20},
		{"most deleted", 5, nil, 15},
		{"emptied, allowed", 0, func(o *Options) { o.AllowEmpty = true }, 0},
		{"most deleted, unlimited", 5, func(o *Options) { o.MaxDelete = MaxDeleteUnlimited }, 0},
		{"some deleted", 12, nil, 0},
		{"some deleted, none allowed", 12, func(o *Options) { o.MaxDelete = MaxDeleteNone }, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 20 {
				writeFile(t, dir, fmt.Sprintf("f%02d", i), []byte{byte(i)})
			}
			f := newFakeServer()
			c := f.serve(t, dir, tc.opts)
			syncOK(t, c)
			for i := tc.keep; i < 20; i++ {
				if err := os.Remove(filepath.Join(dir, fmt.Sprintf("f%02d", i))); err != nil {
					t.Fatal(err)
				}
			}
			if tc.keep > 0 {
				writeFile(t, dir, "new", []byte("new"))
			}
			sum, err := c.SyncOnce(context.Background())
			if err != nil {
				t.Fatalf("SyncOnce: %v", err)
			}
			f.mu.Lock()
			entries := len(f.nodes)
			_, gotNew := f.nodes["new"]
			f.mu.Unlock()
			if tc.keep > 0 && !gotNew {
				t.Error("the pass did not send the new file")
			}
			if tc.wantHeld == 0 {
				if sum.Hold != nil {
					t.Fatalf("held: %v", sum.Hold.Error())
				}
				f.checkMirror(t, dir)
				return
			}
			if sum.Hold == nil || sum.Hold.Entries != tc.wantHeld || len(sum.Hold.Paths) != tc.wantHeld {
				t.Fatalf("hold = %+v, want %d entries held", sum.Hold, tc.wantHeld)
			}
			if sum.Deleted != 0 || entries != 20+min(tc.keep, 1) {
				t.Errorf("deleted %d, server holds %d entries; want nothing deleted", sum.Deleted, entries)
			}
		})
	}
}

// TestScopedPassChecksWholeTree checks that a pass over some paths whose
// deletions need the whole tree to be judged lists the whole tree, and
// holds them.
func TestScopedPassChecksWholeTree(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 * AutoDeleteFloor {
		writeFile(t, dir, fmt.Sprintf("d/f%02d", i), []byte{byte(i)})
	}
	writeFile(t, dir, "keep", []byte("k"))
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	syncOK(t, c)
	if err := os.RemoveAll(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	sum, err := c.runPass(context.Background(), []string{"d"}, false)
	if err != nil {
		t.Fatalf("runPass: %v", err)
	}
	if sum.Hold == nil || sum.Hold.Entries != 2*AutoDeleteFloor+1 || !sum.Full {
		t.Fatalf("hold = %+v, full %v; want %d entries held by a full pass", sum.Hold, sum.Full, 2*AutoDeleteFloor+1)
	}
	f.mu.Lock()
	last := f.manifests[len(f.manifests)-1]
	f.mu.Unlock()
	if len(last) != 0 {
		t.Errorf("last listing was of %q, want the whole tree", last)
	}
	// Emptying the root in a scoped pass is judged on the whole tree too.
	if err := os.Remove(filepath.Join(dir, "keep")); err != nil {
		t.Fatal(err)
	}
	sum, err = c.runPass(context.Background(), []string{"keep"}, false)
	if err != nil {
		t.Fatalf("runPass: %v", err)
	}
	if sum.Hold == nil || !strings.Contains(sum.Hold.Reason, "empty") {
		t.Fatalf("hold = %+v, want the deletions held as emptying the tree", sum.Hold)
	}
}

func TestCountLost(t *testing.T) {
	file := func(p string, size, mtime int64) engine.Entry {
		return engine.Entry{Path: p, Type: engine.TypeFile, Size: size, MtimeNs: mtime}
	}
	dir := func(p string) engine.Entry { return engine.Entry{Path: p, Type: engine.TypeDir} }
	link := func(p, target string) engine.Entry {
		return engine.Entry{Path: p, Type: engine.TypeSymlink, LinkTarget: target}
	}
	remote := engine.Manifest{dir("old"), dir("old/sub"), file("old/sub/a", 1, 10), file("old/b", 2, 20),
		link("old/l", "t"), file("gone", 3, 30), file("kept", 4, 40)}
	cases := []struct {
		name string
		plan engine.Plan
		want int
	}{
		{"nothing deleted", engine.Plan{}, 0},
		{"deleted, nothing made", engine.Plan{Delete: []engine.Entry{dir("old"), file("gone", 3, 30)}}, 6},
		{"renamed directory", engine.Plan{
			Delete:  []engine.Entry{dir("old")},
			Mkdir:   []engine.Entry{dir("new"), dir("new/sub")},
			Send:    []engine.FileChange{{Local: file("new/sub/a", 1, 10)}, {Local: file("new/b", 2, 20)}},
			Symlink: []engine.Entry{link("new/l", "t")},
		}, 1}, // "old" itself: its new name differs
		{"same size, other mtime", engine.Plan{
			Delete: []engine.Entry{file("gone", 3, 30)},
			Send:   []engine.FileChange{{Local: file("other", 3, 31)}},
		}, 1},
	}
	for _, tc := range cases {
		if got := countLost(tc.plan, remote); got != tc.want {
			t.Errorf("%s: countLost = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDeleteTally(t *testing.T) {
	var tally deleteTally
	t0 := time.Unix(1_000_000, 0)
	tally.add(t0, 7)
	if got := tally.recent(t0); got != 7 {
		t.Errorf("recent(t0) = %d, want 7", got)
	}
	tally.add(t0.Add(10*time.Second), 0) // nothing lost: not recorded
	tally.add(t0.Add(30*time.Second), 5)
	cases := []struct {
		at   time.Duration
		want int
	}{
		{30 * time.Second, 12},
		{deleteWindow, 12},
		{deleteWindow + time.Second, 5},
		{30*time.Second + deleteWindow + time.Second, 0},
	}
	for _, tc := range cases {
		if got := tally.recent(t0.Add(tc.at)); got != tc.want {
			t.Errorf("recent(t0+%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
}
