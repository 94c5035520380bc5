package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// copyTree copies the tree src to dst, which must not exist, with `cp -a`:
// contents, modes, mtimes and symlinks are preserved.
func copyTree(src, dst string) error {
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp -a %s %s: %w: %s", src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// trash holds trees moved out of the way between runs. Deleting a tree of
// 20,000 files leaves ext4 slow to create files for minutes on small VMs,
// which would skew the next runs, so large trees are renamed into the trash
// and deleted only when the benchmark ends. It is not safe for concurrent
// use.
type trash struct {
	dir string
	n   int
}

// discard moves p into the trash. With now set, it deletes p instead: for
// trees of a few big files, which delete quickly.
func (t *trash) discard(p string, now bool) error {
	if _, err := os.Lstat(p); os.IsNotExist(err) {
		return nil
	}
	if now {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		return nil
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return fmt.Errorf("create trash: %w", err)
	}
	t.n++
	if err := os.Rename(p, filepath.Join(t.dir, fmt.Sprintf("%04d", t.n))); err != nil {
		return fmt.Errorf("move %s to trash: %w", p, err)
	}
	return nil
}
