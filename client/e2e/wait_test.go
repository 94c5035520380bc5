package e2e_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitForSync runs dirsync-client -wait-for-sync and returns its exit code
// and output.
func waitForSync(t *testing.T, dir string, s *server, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"--dir", dir, "--server", s.url(), "--wait-for-sync"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "dirsync-client"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatalf("run dirsync-client --wait-for-sync: %v", err)
	}
	return 0, out.String()
}

// TestWaitForSyncWithWatcher writes a batch of files while a client
// watches, and checks that -wait-for-sync returns only once the server
// holds all of them: the trees must match the moment it exits.
func TestWaitForSyncWithWatcher(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "start.txt", []byte("start"), 0o644)
	s := startServer(t, dst)
	startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	rng := rand.New(rand.NewPCG(21, 8))
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	writeFile(t, src, "big/blob.bin", big, 0o644)
	for i := range 300 {
		writeFile(t, src, fmt.Sprintf("many/d%d/f%03d.txt", i%10, i), []byte(strings.Repeat("x", i)), 0o644)
	}
	if err := os.Remove(filepath.Join(src, "start.txt")); err != nil {
		t.Fatal(err)
	}
	code, out := waitForSync(t, src, s, "--timeout", "60s")
	if code != 0 {
		t.Fatalf("--wait-for-sync exited %d:\n%s", code, out)
	}
	requireMirror(t, src, dst)
}

// TestWaitForSyncTimesOut runs -wait-for-sync with no watching client: it
// must upload nothing, and exit 1 naming what is pending.
func TestWaitForSyncTimesOut(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "synced.txt", []byte("on both sides"), 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	writeFile(t, src, "only-local.txt", []byte("not sent"), 0o644)

	code, out := waitForSync(t, src, s, "--timeout", "1s")
	if code != 1 {
		t.Fatalf("--wait-for-sync exited %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "1 paths pending\n  only-local.txt\n") {
		t.Errorf("output does not name the pending path:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dst, "only-local.txt")); err == nil {
		t.Errorf("--wait-for-sync uploaded a file")
	}

	// Once the tree is sent, it returns at once.
	syncOnce(t, src, s)
	if code, out := waitForSync(t, src, s, "--timeout", "10s"); code != 0 {
		t.Fatalf("--wait-for-sync after a sync exited %d:\n%s", code, out)
	}
}
