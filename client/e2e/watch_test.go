package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchEditorSave(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "doc/notes.txt", []byte("first version\n"), 0o644)
	s := startServer(t, dst)
	startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	// An editor writes a temp file beside the target and renames it over.
	target := filepath.Join(src, "doc", "notes.txt")
	tmp := filepath.Join(src, "doc", ".notes.txt.swp")
	if err := os.WriteFile(tmp, []byte("second version, saved the editor way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, src, dst, 10*time.Second)

	// New directories with files created right away are picked up too.
	writeFile(t, src, "new/deep/dir/file.txt", []byte("created before the watch landed"), 0o644)
	waitMirror(t, src, dst, 10*time.Second)

	// Deletions propagate.
	if err := os.RemoveAll(filepath.Join(src, "new")); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, src, dst, 10*time.Second)
}

func TestWatchBurstDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 5,000 files")
	}
	src, dst := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 2000 {
		writeFile(t, src, fmt.Sprintf("initial/d%02d/f%04d.txt", i%40, i), randomBytes(r, 500+r.IntN(4000)), 0o644)
	}
	s := startServer(t, dst)
	startWatch(t, src, s)
	// A burst of 5,000 changes (creates, rewrites, deletes) while the initial
	// sync is still running, like a git checkout.
	for i := range 5000 {
		switch i % 5 {
		case 0, 1, 2:
			writeFile(t, src, fmt.Sprintf("burst/d%02d/f%04d.txt", i%50, i), randomBytes(r, 200+r.IntN(2000)), 0o644)
		case 3:
			writeFile(t, src, fmt.Sprintf("initial/d%02d/f%04d.txt", i%40, i%2000), randomBytes(r, 300), 0o644)
		case 4:
			_ = os.Remove(filepath.Join(src, fmt.Sprintf("initial/d%02d/f%04d.txt", (i+7)%40, (i+7)%2000)))
		}
	}
	waitMirror(t, src, dst, 90*time.Second)
}

func TestWatchServerRestart(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "before.txt", []byte("before the restart"), 0o644)
	s := startServer(t, dst)
	client := startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	s.kill()
	writeFile(t, src, "during.txt", []byte("written while the server was down"), 0o644)
	time.Sleep(300 * time.Millisecond) // let the client notice and fail at least once
	select {
	case <-client.done:
		t.Fatalf("client exited while the server was down: %v", client.err)
	default:
	}
	startServerOn(t, dst, s.addr)
	writeFile(t, src, "after.txt", []byte("after the restart"), 0o644)
	waitMirror(t, src, dst, 60*time.Second)
}
