package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitMirror polls until the fake server mirrors dir, failing the test
// after a generous deadline.
func waitMirror(t *testing.T, f *fakeServer, dir, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		problems := f.mirrorProblems(t, dir)
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no mirror after 30s:\n%s", what, strings.Join(problems, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchInBackground runs c.Watch until the returned function is called;
// that function stops it and fails t if Watch returned an error.
func watchInBackground(t *testing.T, c *Client) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}
}

func TestWatchFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/one.txt", []byte("one"))
	writeFile(t, dir, "b/two.txt", []byte("two"))
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	defer watchInBackground(t, c)()
	waitMirror(t, f, dir, "initial pass")

	// A new directory tree, made faster than a watch can land on it.
	writeFile(t, dir, "new/deep/er/f.txt", []byte("deep"))
	// An editor-style save: write a temporary file, rename it over.
	writeFile(t, dir, "a/.one.txt.swp", []byte("one, edited"))
	if err := os.Rename(filepath.Join(dir, "a/.one.txt.swp"), filepath.Join(dir, "a/one.txt")); err != nil {
		t.Fatal(err)
	}
	// A removal and a mode change.
	if err := os.RemoveAll(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/one.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, f, dir, "small changes")

	// A burst, like a checkout: many files in many directories.
	for i := range 500 {
		writeFile(t, dir, fmt.Sprintf("burst/d%d/f%d", i%20, i), []byte(fmt.Sprint(i)))
	}
	// A directory moved away and its content edited at the new place.
	if err := os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "moved/deep/er/f.txt", []byte("edited after the move"))
	waitMirror(t, f, dir, "burst and move")

	// The ignore file changes: the newly ignored tree is left alone on the
	// server, and new files under it are not sent.
	writeFile(t, dir, IgnoreFile, []byte("burst/\n"))
	writeFile(t, dir, "burst/late.txt", []byte("ignored"))
	writeFile(t, dir, "after-ignore.txt", []byte("not ignored"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		f.mu.Lock()
		_, arrived := f.nodes["after-ignore.txt"]
		_, ignoreFile := f.nodes[IgnoreFile]
		f.mu.Unlock()
		if arrived && ignoreFile {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("changes after the ignore file changed did not reach the server in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.mu.Lock()
	_, kept := f.nodes["burst"]
	_, late := f.nodes["burst/late.txt"]
	f.mu.Unlock()
	if !kept || late {
		t.Errorf("ignored tree: kept on server %v (want true), new file sent %v (want false)", kept, late)
	}
}

func TestWatchSymlinkedRoot(t *testing.T) {
	real := t.TempDir()
	writeFile(t, real, "a/one.txt", []byte("one"))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	f := newFakeServer()
	c := f.serve(t, link, nil)
	defer watchInBackground(t, c)()
	waitMirror(t, f, real, "initial pass")
	writeFile(t, real, "a/one.txt", []byte("one, edited"))
	writeFile(t, real, "two.txt", []byte("two"))
	waitMirror(t, f, real, "changes below a symlinked --dir")
}
