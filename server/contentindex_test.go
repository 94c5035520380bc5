package server

import (
	"context"
	"fmt"
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
	if got := fmt.Sprint(ix.holders(a)); got != "[d/y x]" {
		t.Errorf("holders(a) = %s", got)
	}
	ix.put("x", content{size: 5, mtimeNs: 2, sum: b}) // rewritten
	ix.removeTree("d")
	if got := fmt.Sprint(ix.holders(b)); got != "[d-z x]" {
		t.Errorf("holders(b) = %s, want [d-z x]", got)
	}
	if got := ix.holders(a); len(got) != 0 {
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
