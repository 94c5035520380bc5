package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// watchedRoot starts a root watcher on a fresh directory, after tune has
// adjusted it, and returns the directory, the watcher and a subscriber of
// the whole tree.
func watchedRoot(t *testing.T, tune func(*rootWatch)) (string, *rootWatch, *feedSub) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	feed := newChangeFeed(4)
	w := newRootWatch(root, dir, feed, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if tune != nil {
		tune(w)
	}
	w.start()
	t.Cleanup(w.close)
	sub, _, err := feed.subscribe("", false, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return dir, w, sub
}

// waitEvents collects events from sub until done says it has what it
// wants, failing the test after 5 s.
func waitEvents(t *testing.T, sub *feedSub, done func([]changeEvent) bool) []changeEvent {
	t.Helper()
	var got []changeEvent
	deadline := time.After(5 * time.Second)
	for !done(got) {
		select {
		case <-sub.wake:
			got = append(got, sub.take()...)
		case <-deadline:
			t.Fatalf("timed out; events so far: %q", describeOrigin(got))
		}
	}
	return got
}

// describeOrigin renders events as "kind:path:own" without generations.
func describeOrigin(evs []changeEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s:%t", e.kind, e.path, e.own)
	}
	return out
}

// hasEvent returns a predicate for waitEvents: an event of kind on path.
func hasEvent(path string, kind changeKind) func([]changeEvent) bool {
	return func(evs []changeEvent) bool {
		return slices.ContainsFunc(evs, func(e changeEvent) bool { return e.path == path && e.kind == kind })
	}
}

// quiet drains sub for d and returns what came.
func quiet(sub *feedSub, d time.Duration) []changeEvent {
	var got []changeEvent
	deadline := time.After(d)
	for {
		select {
		case <-sub.wake:
			got = append(got, sub.take()...)
		case <-deadline:
			return got
		}
	}
}

func TestRootWatchDrift(t *testing.T) {
	dir, _, sub := watchedRoot(t, nil)
	name := filepath.Join(dir, "f")
	steps := []struct {
		name string
		do   func() error
		path string
		kind changeKind
	}{
		{"create", func() error { return os.WriteFile(name, []byte("a"), 0o644) }, "f", kindCreated},
		{"modify", func() error { return os.WriteFile(name, []byte("bb"), 0o644) }, "f", kindModified},
		{"chmod", func() error { return os.Chmod(name, 0o600) }, "f", kindMetadata},
		{"remove", func() error { return os.Remove(name) }, "f", kindRemoved},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(dir, "d"), 0o755) }, "d", kindCreated},
		// Only seen if the new directory got a watch.
		{"file in new dir", func() error { return os.WriteFile(filepath.Join(dir, "d", "g"), nil, 0o644) }, "d/g", kindCreated},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := waitEvents(t, sub, hasEvent(st.path, st.kind))
		for _, e := range got {
			if e.own {
				t.Errorf("%s: event %q marked as the server's own", st.name, describeOrigin([]changeEvent{e}))
			}
		}
		// Let the window that carried it pass, so that steps do not share one.
		quiet(sub, 3*watchWindow)
	}
}

func TestRootWatchOwnChanges(t *testing.T) {
	dir, w, sub := watchedRoot(t, nil)
	// The server's way: a temporary file renamed into place.
	done := w.ownChange("f")
	tmp := filepath.Join(dir, tempPrefix+"1")
	if err := os.WriteFile(tmp, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * watchWindow) // the change outlasts a window
	if err := os.Rename(tmp, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	done()
	got := waitEvents(t, sub, hasEvent("f", kindCreated))
	got = append(got, quiet(sub, 5*watchWindow)...)
	for _, e := range got {
		if !e.own || e.path != "f" {
			t.Errorf("event %q: want only own events on f", describeOrigin([]changeEvent{e}))
		}
	}
	// The same path changed behind the server's back is drift.
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = waitEvents(t, sub, hasEvent("f", kindModified))
	if e := got[len(got)-1]; e.own {
		t.Errorf("external write after an own one: event %q marked own", describeOrigin([]changeEvent{e}))
	}
	// Directories the server makes on the way to a file are its own too,
	// even when their events come before the file is done.
	done = w.ownChange("p/q/f")
	if err := os.MkdirAll(filepath.Join(dir, "p", "q"), 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * watchWindow)
	if err := os.WriteFile(filepath.Join(dir, "p", "q", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done()
	got = waitEvents(t, sub, hasEvent("p/q/f", kindCreated))
	got = append(got, quiet(sub, 5*watchWindow)...)
	for _, e := range got {
		if !e.own {
			t.Errorf("event %q on the way to an own file not marked own", describeOrigin([]changeEvent{e}))
		}
	}
	// A directory the server removes takes its children with it, all own.
	if err := os.MkdirAll(filepath.Join(dir, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, sub, hasEvent("d", kindCreated))
	quiet(sub, 5*watchWindow)
	done = w.ownChange("d")
	if err := os.RemoveAll(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	done()
	got = waitEvents(t, sub, hasEvent("d", kindRemoved))
	got = append(got, quiet(sub, 5*watchWindow)...)
	for _, e := range got {
		if !e.own {
			t.Errorf("event %q of an own removal not marked own", describeOrigin([]changeEvent{e}))
		}
	}
}

func TestRootWatchCoalesces(t *testing.T) {
	dir, _, sub := watchedRoot(t, func(w *rootWatch) { w.window = 300 * time.Millisecond })
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	got := waitEvents(t, sub, hasEvent("f", kindCreated))
	got = append(got, quiet(sub, 400*time.Millisecond)...)
	if len(got) != 1 {
		t.Errorf("a burst of 51 events on one file gave %d events, want 1: %q", len(got), describeOrigin(got))
	}
}

func TestRootWatchOverflowRescans(t *testing.T) {
	dir, _, sub := watchedRoot(t, func(w *rootWatch) {
		w.window = 300 * time.Millisecond
		w.maxPending = 3
	})
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := waitEvents(t, sub, hasEvent("", kindRescan))
	got = append(got, quiet(sub, 400*time.Millisecond)...)
	if len(got) != 1 {
		t.Errorf("10 paths past a cap of 3 gave %q, want one RESCAN of the root", describeOrigin(got))
	}
}

func TestRootWatchLimit(t *testing.T) {
	dir, w, sub := watchedRoot(t, func(w *rootWatch) {
		w.add = func(name string) error {
			if filepath.Base(name) == "full" {
				return syscall.ENOSPC // as past fs.inotify.max_user_watches
			}
			return w.fw.Add(name)
		}
	})
	if err := os.MkdirAll(filepath.Join(dir, "full", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, sub, hasEvent("full", kindCreated))
	w.mu.Lock()
	_, unwatched := w.unwatched["full"]
	w.mu.Unlock()
	if !unwatched {
		t.Fatal("a directory that could not be watched is not polled")
	}
	writeAt := filepath.Join(dir, "full", "deep", "f")
	if err := os.WriteFile(writeAt, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.poll() // what the ticker does every watchPollEvery
	waitEvents(t, sub, hasEvent("full/deep/f", kindCreated))
}

func TestRootWatchPolls(t *testing.T) {
	dir, w, sub := watchedRoot(t, func(w *rootWatch) { w.maxPending = 100 })
	// As if the root could not be watched: poll by hand.
	w.markUnwatched("")
	w.startPolling()
	w.fw.Close()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.poll()
	waitEvents(t, sub, hasEvent("f", kindCreated))
	if err := os.Remove(filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	w.poll()
	waitEvents(t, sub, hasEvent("f", kindRemoved))
}
