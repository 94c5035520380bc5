package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Exit codes of dirsync-client.
const (
	exitNotMirrored = 1
	exitUsage       = 2
	exitHeld        = 5
)

// waitOutput polls until p's output holds want, or fails after timeout.
func waitOutput(t *testing.T, p *process, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.output.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never said %q within %v", want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fillTree writes n small files at the top of root.
func fillTree(t *testing.T, root string, n int) {
	t.Helper()
	for i := range n {
		writeFile(t, root, fmt.Sprintf("f%02d.txt", i), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
}

// countEntries returns how many entries root holds at its top.
func countEntries(t *testing.T, root string) int {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestOnceMissingDirIsUsageError runs --once with a mistyped --dir against
// a server holding 20 files: the client must exit 2 without touching the
// server, and must not create the directory.
func TestOnceMissingDirIsUsageError(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	fillTree(t, src, 20)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	typo := filepath.Join(t.TempDir(), "projj")
	code, out := runOnce(t, typo, s)
	if code != exitUsage || !strings.Contains(out, "no such directory") {
		t.Errorf("--once with a missing --dir exited %d, want %d with \"no such directory\":\n%s", code, exitUsage, out)
	}
	if _, err := os.Stat(typo); err == nil {
		t.Error("the client created the missing directory")
	}
	requireMirror(t, src, dst)
}

// TestOnceHoldsMassDeletion checks that --once refuses to empty the
// server's tree, or to delete most of it, with exit code 5 and nothing
// deleted, and that the flags that allow it do.
func TestOnceHoldsMassDeletion(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	fillTree(t, src, 20)
	s := startServer(t, dst)
	syncOnce(t, src, s)

	empty := t.TempDir()
	code, out := runOnce(t, empty, s)
	if code != exitHeld || !strings.Contains(out, "--allow-empty") {
		t.Errorf("--once of an empty directory exited %d, want %d naming --allow-empty:\n%s", code, exitHeld, out)
	}
	if n := countEntries(t, dst); n != 20 {
		t.Fatalf("the server holds %d entries after a held pass, want 20", n)
	}

	// A wrong directory with a few files of its own: its new file goes,
	// the 20 deletions wait.
	other := t.TempDir()
	writeFile(t, other, "unrelated.txt", []byte("x"), 0o644)
	code, out = runOnce(t, other, s)
	if code != exitHeld || !strings.Contains(out, "--max-delete 20") {
		t.Errorf("--once of another directory exited %d, want %d suggesting --max-delete 20:\n%s", code, exitHeld, out)
	}
	if n := countEntries(t, dst); n != 21 {
		t.Fatalf("the server holds %d entries, want the 20 and the new file", n)
	}

	syncOnce(t, other, s, "--max-delete", "-1")
	requireMirror(t, other, dst)
	syncOnce(t, empty, s, "--allow-empty")
	requireMirror(t, empty, dst)
}

// TestWatchHoldsWhenEmptied empties the watched directory: the client must
// hold the deletions, say so once, keep watching, and mirror again once
// the files are back.
func TestWatchHoldsWhenEmptied(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	fillTree(t, src, 20)
	s := startServer(t, dst)
	w := startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	for i := range 20 {
		if err := os.Remove(filepath.Join(src, fmt.Sprintf("f%02d.txt", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitOutput(t, w, "deletions held back", 30*time.Second)
	// Retries run meanwhile, with backoff; a few of them must not
	// delete anything nor repeat the message.
	time.Sleep(2 * time.Second)
	if n := countEntries(t, dst); n != 20 {
		t.Fatalf("the server holds %d entries after the directory was emptied, want 20", n)
	}
	if n := strings.Count(w.output.String(), "level=ERROR msg=\"deletions held back"); n != 1 {
		t.Errorf("the hold was reported %d times, want once", n)
	}

	fillTree(t, src, 20)
	writeFile(t, src, "after.txt", []byte("after"), 0o644)
	waitMirror(t, src, dst, 30*time.Second)
	waitOutput(t, w, "deletions no longer held back", 30*time.Second)
	select {
	case <-w.done:
		t.Fatalf("watch mode exited: %v", w.err)
	default:
	}
}

// TestWatchHoldsWhenEmptiedSlowly removes a tree one directory at a time,
// as a script or a slow rm -rf does: each pass then deletes a little,
// which alone the default rule lets through, but together the passes of
// the last minute must not take more than half of the mirror.
func TestWatchHoldsWhenEmptiedSlowly(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	const dirs, perDir = 20, 10
	for d := range dirs {
		for f := range perDir {
			writeFile(t, src, fmt.Sprintf("d%02d/f%02d.txt", d, f), []byte(fmt.Sprintf("%d/%d", d, f)), 0o644)
		}
	}
	s := startServer(t, dst)
	w := startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)
	total := countEntries(t, dst)

	for d := range dirs {
		if err := os.RemoveAll(filepath.Join(src, fmt.Sprintf("d%02d", d))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // a pass of its own for each
	}
	waitOutput(t, w, "deletions held back", 30*time.Second)
	time.Sleep(2 * time.Second)
	if n := countEntries(t, dst); 2*n < total {
		t.Fatalf("the server holds %d of its %d entries after the tree was removed a directory at a time, want at least half", n, total)
	}
}

// TestWatchSourceRemoved removes the watched directory itself: the server
// must keep its files, and once the directory is made again the client
// must mirror it and watch it.
func TestWatchSourceRemoved(t *testing.T) {
	parent, dst := t.TempDir(), t.TempDir()
	src := filepath.Join(parent, "src")
	fillTree(t, src, 20)
	s := startServer(t, dst)
	w := startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, w, "the directory to mirror is gone", 30*time.Second)
	if n := countEntries(t, dst); n != 20 {
		t.Fatalf("the server holds %d entries after the directory was removed, want 20", n)
	}

	fillTree(t, src, 15)
	waitMirror(t, src, dst, 30*time.Second)
	// The new directory is watched: a change shows up without a rescan.
	writeFile(t, src, "later.txt", []byte("later"), 0o644)
	waitMirror(t, src, dst, 10*time.Second)
}

// TestOnceSkippedItemsExit1 checks that --once exits 1 and names the items
// it had to skip (a socket), rather than report a mirror, while items
// excluded on purpose do not count; a FIFO and a name with a backslash
// are mirrored.
func TestOnceSkippedItemsExit1(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "ok.txt", []byte("ok"), 0o644)
	writeFile(t, src, `back\slash.txt`, []byte("b"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(src, "sock"), syscall.S_IFSOCK|0o644, 0); err != nil {
		t.Skipf("mknod socket: %v", err)
	}
	s := startServer(t, dst)
	code, out := runOnce(t, src, s)
	if code != exitNotMirrored || strings.Contains(out, "verified") || !strings.Contains(out, `skipped "sock"`) ||
		strings.Contains(out, `skipped "pipe"`) || strings.Contains(out, `skipped "back`) {
		t.Errorf("--once with an item it cannot mirror exited %d, want %d naming it alone:\n%s", code, exitNotMirrored, out)
	}
	code, out = runOnce(t, src, s, "--exclude", "sock")
	if code != 0 {
		t.Errorf("--once with those items excluded exited %d, want 0:\n%s", code, out)
	}
}

// TestOverlappingRoots runs the real binaries with the server's root
// inside the client's directory, which must be left out (it used to nest
// the mirror into itself at every pass), and with the client's directory
// inside the server's root, which must be refused with exit code 2.
func TestOverlappingRoots(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "code/main.go", []byte("package main\n"), 0o644)
	dst := filepath.Join(src, "mirror")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dst)
	code, out := runOnce(t, src, s)
	if code != 0 || !strings.Contains(out, "leaving it out") {
		t.Fatalf("--once with the server's root inside --dir exited %d, want 0 with a warning:\n%s", code, out)
	}
	w := startWatch(t, src, s)
	waitOutput(t, w, "pass done", 30*time.Second)
	writeFile(t, src, "code/more.go", []byte("package main\n"), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dst, "code", "more.go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watch mode did not mirror a change")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Lstat(filepath.Join(dst, "mirror")); err == nil {
		t.Error("the server's root was mirrored into itself")
	}
	w.stop(t)

	inner := filepath.Join(dst, "code")
	code, out = runOnce(t, inner, s)
	if code != exitUsage || !strings.Contains(out, "inside the server's root") {
		t.Errorf("--once with --dir inside the server's root exited %d, want %d:\n%s", code, exitUsage, out)
	}
	if _, err := os.Stat(filepath.Join(inner, "main.go")); err != nil {
		t.Errorf("the refused client's directory lost its files: %v", err)
	}
	w = startWatch(t, inner, s)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("watch mode with --dir inside the server's root kept running")
	}
	if code := w.cmd.ProcessState.ExitCode(); code != exitUsage {
		t.Errorf("watch mode with --dir inside the server's root exited %d, want %d", code, exitUsage)
	}
}
