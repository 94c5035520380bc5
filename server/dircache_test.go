package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDirCache(t *testing.T) {
	root := t.TempDir()
	srv, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	open := func(t *testing.T, c *dirCache, dir string) (*os.Root, func()) {
		t.Helper()
		d, file, release, err := c.open(dir+"/f", dir, true)
		if err != nil {
			t.Fatalf("open %q: %v", dir, err)
		}
		if file == nil {
			t.Errorf("open %q: no directory file for the *at calls", dir)
		}
		return d, release
	}
	usable := func(d *os.Root) bool {
		_, err := d.Stat(".")
		return err == nil
	}

	tests := []struct {
		name string
		run  func(t *testing.T, c *dirCache)
	}{
		{"same directory shares one handle", func(t *testing.T, c *dirCache) {
			a, ra := open(t, c, "a/b")
			b, rb := open(t, c, "a/b")
			if a != b {
				t.Error("second open walked again instead of using the cached handle")
			}
			ra()
			rb()
			if !usable(a) {
				t.Error("handle closed while the cache still holds it")
			}
		}},
		{"directory removal drops handles", func(t *testing.T, c *dirCache) {
			a, ra := open(t, c, "gone")
			ra()
			srv.dirEpoch.Add(1)
			b, rb := open(t, c, "gone")
			defer rb()
			if a == b {
				t.Error("handle kept across a directory removal")
			}
			if usable(a) {
				t.Error("dropped handle with no holder left open")
			}
		}},
		{"held handle outlives the cache", func(t *testing.T, c *dirCache) {
			a, ra := open(t, c, "held")
			c.close()
			if !usable(a) {
				t.Fatal("closing the cache closed a handle a file still holds")
			}
			ra()
			ra() // a second release is harmless
			if usable(a) {
				t.Error("handle left open after its last holder released it")
			}
		}},
		{"oldest handles are evicted", func(t *testing.T, c *dirCache) {
			first, r := open(t, c, "evict/0")
			r()
			for i := 1; i <= dirCacheMax; i++ {
				_, r := open(t, c, fmt.Sprintf("evict/%d", i))
				r()
			}
			if len(c.dirs) != dirCacheMax {
				t.Errorf("cache holds %d handles, want %d", len(c.dirs), dirCacheMax)
			}
			if usable(first) {
				t.Error("evicted handle left open")
			}
		}},
		{"symlinked parent refused", func(t *testing.T, c *dirCache) {
			if err := os.Symlink(t.TempDir(), filepath.Join(root, "link")); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := c.open("link/x/f", "link/x", true); err == nil {
				t.Error("opened a directory through a symlink")
			}
		}},
		{"opens the right directory below a cached ancestor", func(t *testing.T, c *dirCache) {
			_, r := open(t, c, "anc/b")
			r()
			deep, r := open(t, c, "anc/b/c/d")
			defer r()
			if err := deep.WriteFile("probe", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, "anc/b/c/d/probe")); err != nil {
				t.Errorf("the handle opened below the ancestor is elsewhere: %v", err)
			}
		}},
		{"symlink below a cached ancestor refused", func(t *testing.T, c *dirCache) {
			_, r := open(t, c, "anc2/b")
			r()
			outside := t.TempDir()
			if err := os.Symlink(outside, filepath.Join(root, "anc2/b/link")); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := c.open("anc2/b/link/x/f", "anc2/b/link/x", true); err == nil {
				t.Error("opened a directory through a symlink below a cached ancestor")
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("the walk created %d entries outside the root", len(entries))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := srv.newDirCache()
			defer c.close()
			tt.run(t, c)
		})
	}
}
