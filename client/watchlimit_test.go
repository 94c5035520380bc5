package client

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watchLimit makes a watcher's Add fail with ENOSPC, as the kernel does at
// its watch limit, after room successful calls, until lifted.
type watchLimit struct {
	room   atomic.Int64
	lifted atomic.Bool
}

func (l *watchLimit) hook(w *watcher) {
	add := w.add
	w.add = func(name string) error {
		if !l.lifted.Load() && l.room.Add(-1) < 0 {
			return syscall.ENOSPC
		}
		return add(name)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatcherRecordsUnwatchedDirs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a/b/f", "a/c/f", "a/c/d/f", "e/f", "g/f"} {
		writeFile(t, dir, f, []byte(f))
	}
	var limit watchLimit
	// WalkDir goes in lexical order: "", a, a/b get watches; a/c, a/c/d,
	// e and g do not.
	limit.room.Store(3)
	var logs lockedBuffer
	c, err := New(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c.watchHook = limit.hook
	w := c.newWatcher(newCoalescer(time.Hour, 100))
	defer w.close()
	w.addTree("")

	want := []string{"a/c", "e", "g"}
	if got := w.unwatchedDirs(); !slices.Equal(got, want) {
		t.Errorf("unwatched = %q, want %q", got, want)
	}
	select {
	case <-w.poll:
	default:
		t.Error("poll not signalled")
	}
	if got := w.rescanScopes(); !slices.Equal(got, want) {
		t.Errorf("rescan at the limit = %q, want %q", got, want)
	}
	w.addTree("a/c") // a directory made later, still at the limit
	for _, s := range []string{
		"inotify watch limit reached: 4 directories cannot be watched",
		"sudo sysctl fs.inotify.max_user_watches=",
		"/etc/sysctl.d/",
		"unwatched_dirs=4",
		"max_user_watches=",
	} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "watch limit reached"); n != 1 {
		t.Errorf("limit explained %d times, want once:\n%s", n, logs.String())
	}

	// One directory deleted, and room for the others: the next rescan
	// covers those that just got a watch, and then there is nothing left.
	if err := os.RemoveAll(filepath.Join(dir, "g")); err != nil {
		t.Fatal(err)
	}
	limit.lifted.Store(true)
	if got, want := w.rescanScopes(), []string{"a/c", "e"}; !slices.Equal(got, want) {
		t.Errorf("rescan with room = %q, want %q", got, want)
	}
	if got := w.unwatchedDirs(); len(got) != 0 {
		t.Errorf("unwatched after the limit was lifted = %q, want none", got)
	}
	if got := w.rescanScopes(); len(got) != 0 {
		t.Errorf("rescan with everything watched = %q, want none", got)
	}
}

func TestSuggestWatchLimit(t *testing.T) {
	tests := []struct {
		name          string
		limit, missed int
		want          int
	}{
		{"double the limit", 8192, 100, 16384 + 49152},
		{"room for twice the missing", 65536, 100_000, 327680},
		{"unknown limit", 0, 10, 524288},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := suggestWatchLimit(tt.limit, tt.missed)
			if got != tt.want {
				t.Errorf("suggestWatchLimit(%d, %d) = %d, want %d", tt.limit, tt.missed, got, tt.want)
			}
			if got < tt.limit+tt.missed || got%(64<<10) != 0 {
				t.Errorf("suggestWatchLimit(%d, %d) = %d: below the need or not a multiple of 64 Ki", tt.limit, tt.missed, got)
			}
		})
	}
}

func TestWatchAtLimitRescansUnwatchedDirs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/one.txt", []byte("one"))
	writeFile(t, dir, "b/two.txt", []byte("two"))
	writeFile(t, dir, "c/sub/three.txt", []byte("three"))
	f := newFakeServer()
	var logs lockedBuffer
	c := f.serve(t, dir, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c.pollEvery = 20 * time.Millisecond
	var limit watchLimit
	limit.room.Store(2) // the root and a
	var w *watcher
	var hooked atomic.Bool
	c.watchHook = func(nw *watcher) {
		limit.hook(nw)
		w = nw
		hooked.Store(true)
	}
	stopWatch := watchInBackground(t, c)
	defer func() {
		stopWatch()
		if t.Failed() {
			t.Logf("client log:\n%s", logs.String())
		}
	}()
	waitMirror(t, f, dir, "initial pass")
	if !hooked.Load() {
		t.Fatal("watch hook not called")
	}

	// Changes in unwatched directories, and a new directory under a
	// watched one (no room for its watch either).
	writeFile(t, dir, "b/two.txt", []byte("two, edited"))
	writeFile(t, dir, "c/sub/new.txt", []byte("new"))
	writeFile(t, dir, "a/new/four.txt", []byte("four"))
	waitMirror(t, f, dir, "changes in unwatched directories")
	if got, want := w.unwatchedDirs(), []string{"a/new", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("unwatched = %q, want %q", got, want)
	}
	if n := strings.Count(logs.String(), "inotify watch limit reached: 3 directories cannot be watched"); n != 1 {
		t.Errorf("limit explained %d times, want once", n)
	}
	f.mu.Lock()
	full := 0
	for _, paths := range f.manifests {
		if len(paths) == 0 {
			full++
		}
	}
	f.mu.Unlock()
	if full != 1 {
		t.Errorf("%d full passes, want only the initial one: rescans must cover the unwatched directories only", full)
	}

	// The limit is raised: every directory gets a watch, rescans stop,
	// and changes arrive through events.
	limit.lifted.Store(true)
	waitFor(t, "all directories watched", func() bool { return len(w.unwatchedDirs()) == 0 })
	writeFile(t, dir, "c/sub/three.txt", []byte("three, edited"))
	waitMirror(t, f, dir, "change after the limit was raised")
}

func TestWatchOverflowRescans(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/one.txt", []byte("one"))
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	var drop atomic.Bool
	errs := make(chan error)
	c.watchHook = func(w *watcher) {
		events := make(chan fsnotify.Event)
		go func(in <-chan fsnotify.Event) {
			defer close(events)
			for ev := range in {
				if !drop.Load() {
					events <- ev
				}
			}
		}(w.events)
		w.events, w.errs = events, errs
	}
	defer watchInBackground(t, c)()
	waitMirror(t, f, dir, "initial pass")

	// The kernel's queue overflows: these events are lost.
	drop.Store(true)
	writeFile(t, dir, "a/one.txt", []byte("one, edited"))
	writeFile(t, dir, "lost/two.txt", []byte("two"))
	errs <- fsnotify.ErrEventOverflow
	waitMirror(t, f, dir, "after the overflow")

	// The directory made while events were lost is watched now.
	drop.Store(false)
	writeFile(t, dir, "lost/three.txt", []byte("three"))
	waitMirror(t, f, dir, "in a directory made during the overflow")
}
