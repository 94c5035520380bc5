package e2e_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetidBits checks both server policies on set-id bits: by default
// the server clears them, the pass still converges (the client's verify
// passes, a second pass changes nothing) and the client says so; with
// --allow-setid the tree mirrors exactly.
func TestSetidBits(t *testing.T) {
	const setid = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	src := t.TempDir()
	writeFile(t, src, "bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755|fs.ModeSetuid|fs.ModeSetgid)
	writeFile(t, src, "shared/file", []byte("shared"), 0o644)
	writeFile(t, src, "plain", []byte("plain"), 0o644)
	modes := map[string]fs.FileMode{
		"shared": 0o775 | fs.ModeSetgid,
		"tmp":    0o777 | fs.ModeSticky,
	}
	for rel, mode := range modes {
		if err := os.MkdirAll(filepath.Join(src, rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(src, rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	modes["bin/tool"] = 0o755 | fs.ModeSetuid | fs.ModeSetgid

	t.Run("dropped", func(t *testing.T) {
		dst := t.TempDir()
		s := startServer(t, dst)
		out := syncOnce(t, src, s)
		if !strings.Contains(out, "dropped set-id bits of 3 entries") {
			t.Errorf("client output does not report the dropped bits:\n%s", out)
		}
		for rel, mode := range modes {
			info, err := os.Lstat(filepath.Join(dst, rel))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.Mode()&(fs.ModePerm|setid), mode&^setid; got != want {
				t.Errorf("%s: mode %v on the server, want %v", rel, got, want)
			}
		}
		before := status(t, s)
		if !before.GetDropsSetid() {
			t.Error("status: drops_setid false, want true")
		}
		// Converged: a second pass changes nothing and verifies.
		syncOnce(t, src, s)
		after := status(t, s)
		if !after.GetLastChangeAt().AsTime().Equal(before.GetLastChangeAt().AsTime()) {
			t.Errorf("a second pass changed the tree (last change %v, was %v)",
				after.GetLastChangeAt().AsTime(), before.GetLastChangeAt().AsTime())
		}
	})

	t.Run("allowed", func(t *testing.T) {
		dst := t.TempDir()
		s := startServer(t, dst, "--allow-setid")
		out := syncOnce(t, src, s)
		if strings.Contains(out, "set-id") {
			t.Errorf("client output mentions set-id bits the server kept:\n%s", out)
		}
		requireMirror(t, src, dst)
	})
}
