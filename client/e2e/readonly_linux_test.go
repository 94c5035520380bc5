package e2e_test

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadOnlyServerRoot checks that when the server's file system
// refuses writes, the server warns at start and the client prints why
// each item failed, with its relative path, and exits 1 (not a mirror)
// rather than as on a bad token.
func TestReadOnlyServerRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a read-only directory")
	}
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "dir/file.txt", []byte("hello"), 0o644)
	if err := unix.Mount(dst, dst, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	s := startServer(t, dst)
	if !strings.Contains(s.output.String(), "root is not writable") {
		t.Errorf("server did not warn about its root:\n%s", s.output.String())
	}
	code, out := runOnce(t, src, s)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (not a mirror)", code)
	}
	if want := `server cannot write \"dir/file.txt\": read-only file system`; !strings.Contains(out, want) {
		t.Errorf("client output lacks %s:\n%s", want, out)
	}
	if strings.Contains(out, dst) {
		t.Errorf("client output names the server's root %s:\n%s", dst, out)
	}
}
