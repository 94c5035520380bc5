package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestContentIndex(t *testing.T) {
	ix := newContentIndex()
	a, b := [32]byte{1}, [32]byte{2}
	ix.put("x", content{size: 10, mtimeNs: 1, sum: a})
	ix.put("d/y", content{size: 20, mtimeNs: 1, sum: a})
	ix.put("d/e/z", content{size: 30, mtimeNs: 1, sum: b})
	ix.put("d-z", content{size: 40, mtimeNs: 1, sum: b})
	if got := fmt.Sprint(ix.holders(a, 100)); got != "[d/y x]" {
		t.Errorf("holders(a) = %s", got)
	}
	ix.put("x", content{size: 5, mtimeNs: 2, sum: b}) // rewritten
	ix.removeTree("d")
	if got := fmt.Sprint(ix.holders(b, 100)); got != "[d-z x]" {
		t.Errorf("holders(b) = %s, want [d-z x]", got)
	}
	if got := ix.holders(a, 100); len(got) != 0 {
		t.Errorf("holders(a) = %q after removal", got)
	}
	files, bytes, unique := ix.stats()
	if files != 2 || bytes != 45 || unique != 1 {
		t.Errorf("stats = %d files, %d bytes, %d unique; want 2, 45, 1", files, bytes, unique)
	}
	ix.remove("x")
	if _, ok := ix.get("x"); ok {
		t.Errorf("x still indexed")
	}
}

func TestPathLocks(t *testing.T) {
	l := newPathLocks()
	ctx := context.Background()
	var mu sync.Mutex
	inside := map[string]int{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			key := fmt.Sprint(i % 3)
			unlock, err := l.lock(ctx, key)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside[key]++
			if inside[key] > 1 {
				t.Errorf("two holders of %s", key)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside[key]--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()

	unlock, _ := l.lock(ctx, "k")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := l.lock(cctx, "k"); err == nil {
		t.Errorf("second lock of k succeeded")
	}
	unlock()
	if n := l.size(); n != 0 {
		t.Errorf("%d locks left", n)
	}
}

func TestPathSet(t *testing.T) {
	tests := []struct {
		name string
		add  []string
		drop []string
		want []string
	}{
		{"empty", nil, nil, nil},
		{"one", []string{"a"}, nil, []string{"a"}},
		{"twice the same", []string{"a", "a"}, nil, []string{"a"}},
		{"several", []string{"c", "a", "b"}, nil, []string{"a", "b", "c"}},
		{"drop the inline one", []string{"a", "b", "c"}, []string{"a"}, []string{"b", "c"}},
		{"drop all", []string{"a", "b"}, []string{"b", "a"}, nil},
		{"drop a stranger", []string{"a"}, []string{"z"}, []string{"a"}},
		{"drop then add", []string{"a", "b"}, []string{"a", "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps pathSet
			for _, p := range tt.add {
				ps.add(p)
			}
			for _, p := range tt.drop {
				ps.remove(p)
			}
			got := ps.list(len(tt.add))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("list = %q, want %q", got, tt.want)
			}
			if (ps.first == "") != (len(tt.want) == 0) {
				t.Errorf("first = %q with %d holders", ps.first, len(tt.want))
			}
		})
	}
}

// TestHoldersBounded checks that a lookup of a content that thousands of
// files share returns a bounded number of them.
func TestHoldersBounded(t *testing.T) {
	ix := newContentIndex()
	var sum [32]byte // the same content for all, as empty files share one
	for i := range 5000 {
		ix.put(fmt.Sprintf("f%04d", i), content{sum: sum})
	}
	for _, n := range []int{1, maxCopySources, 10000} {
		got := ix.holders(sum, n)
		if want := min(n, 5000); len(got) != want {
			t.Errorf("holders(sum, %d) returned %d paths, want %d", n, len(got), want)
		}
		if !slices.IsSorted(got) {
			t.Errorf("holders(sum, %d) not sorted", n)
		}
	}
}

// TestRemoveTreeVisitsSubtree checks that forgetting a directory looks at
// the paths below it (and one past them), not at the whole index, and
// keeps the index consistent.
func TestRemoveTreeVisitsSubtree(t *testing.T) {
	ix := newContentIndex()
	for i := range 10000 {
		ix.put(fmt.Sprintf("big/%05d", i), content{size: 1, sum: [32]byte{byte(i)}})
	}
	for _, p := range []string{"d", "d/a", "d/b/c", "d-e", "d.f", "e"} {
		ix.put(p, content{size: 1})
	}
	before := ix.visited
	ix.removeTree("d")
	if n := ix.visited - before; n > 3 {
		t.Errorf("removeTree looked at %d paths for 2 below it", n)
	}
	for _, p := range []string{"d", "d/a", "d/b/c"} {
		if _, ok := ix.get(p); ok {
			t.Errorf("%s still indexed", p)
		}
	}
	for _, p := range []string{"d-e", "d.f", "e", "big/00000"} {
		if _, ok := ix.get(p); !ok {
			t.Errorf("%s no longer indexed", p)
		}
	}
	// Directories with nothing indexed below cost next to nothing.
	before = ix.visited
	for i := range 1000 {
		ix.removeTree(fmt.Sprintf("empty%d", i))
	}
	if n := ix.visited - before; n > 1000 {
		t.Errorf("1000 removeTree of empty directories looked at %d paths", n)
	}
	files, bytes, _ := ix.stats()
	if files != 10003 || bytes != 10003 || ix.sorted.Len() != 10003 {
		t.Errorf("after removal: %d files, %d bytes, %d sorted; want 10003 each", files, bytes, ix.sorted.Len())
	}
	// Replacing a path keeps one entry for it.
	ix.put("e", content{size: 5})
	if files, bytes, _ := ix.stats(); files != 10003 || bytes != 10007 || ix.sorted.Len() != 10003 {
		t.Errorf("after replacement: %d files, %d bytes, %d sorted; want 10003, 10007, 10003", files, bytes, ix.sorted.Len())
	}
}
