package e2e_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// countFiles returns how many regular files lie below root.
func countFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWatchHoldsRemovalBurst removes most of a watched tree, directory by
// directory, as an rm -rf does: the removals must reach the mass-deletion
// guard together and be held whole, not go through a slice per pass.
func TestWatchHoldsRemovalBurst(t *testing.T) {
	const dirs, perDir = 10, 100
	src, dst := t.TempDir(), t.TempDir()
	for d := range dirs {
		for f := range perDir {
			writeFile(t, src, fmt.Sprintf("d%02d/f%03d.txt", d, f), []byte(fmt.Sprintf("file %d/%d\n", d, f)), 0o644)
		}
	}
	writeFile(t, src, "keep.txt", []byte("stays\n"), 0o644)
	s := startServer(t, dst)
	w := startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	for d := range dirs {
		if err := os.RemoveAll(filepath.Join(src, fmt.Sprintf("d%02d", d))); err != nil {
			t.Fatal(err)
		}
	}
	waitOutput(t, w, "deletions held back", 30*time.Second)
	if n, want := countFiles(t, dst), dirs*perDir+1; n != want {
		t.Errorf("the server holds %d files after most of the tree was removed, want all %d", n, want)
	}
}
