package server

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/dirsync/dirsync/engine"
)

// Root watching knobs.
const (
	// watchWindow is how long the watcher gathers events after the first
	// of a burst before it publishes them: a burst of writes to one file
	// becomes one event, and drift still reaches clients within a few ms.
	watchWindow = 10 * time.Millisecond
	// watchMaxPending caps the distinct paths gathered in one window;
	// past it they become one RESCAN of the root.
	watchMaxPending = 4096
	// ownTTL is how long the server remembers what one of its own
	// changes left at a path, to tell the events of that change from
	// drift: far longer than the window, and short enough that the marks
	// stay few.
	ownTTL = 2 * time.Second
	// watchPollEvery is how often the tree is rescanned when part of it
	// cannot be watched (inotify limits).
	watchPollEvery = 10 * time.Second
)

// rootWatch watches a Server's root with fsnotify, one watch per
// directory, and publishes what changes there to the server's
// [changeFeed], telling the server's own changes from drift. Temporary
// and partial files (tempPrefix) never make events. When a directory
// cannot be watched, it says so in the log and rescans the whole tree
// every watchPollEvery instead. Its methods are safe for concurrent use.
type rootWatch struct {
	root *os.Root
	abs  string // the root's absolute path
	feed *changeFeed
	log  *slog.Logger
	fw   *fsnotify.Watcher // nil when inotify is unavailable
	done chan struct{}
	// window and maxPending are watchWindow and watchMaxPending, and add
	// is fw.Add unless set; tests change them.
	window     time.Duration
	maxPending int
	add        func(name string) error

	mu      sync.Mutex
	pending map[string]fsnotify.Op
	// overflow records that more than watchMaxPending paths changed in
	// the window: a RESCAN of the root replaces them.
	overflow bool
	armed    bool
	// busy counts the server's changes in progress per path: events under
	// such a path wait for the change to end, to be told apart from drift.
	busy map[string]int
	// own remembers what the server's own changes left where.
	own *ownMarks
	// polling is set once a directory could not be watched; unwatched
	// holds the topmost such directories ("" for the root).
	polling   bool
	unwatched map[string]struct{}

	// pollMu guards snap, the entries under the unwatched directories as
	// last rescanned.
	pollMu sync.Mutex
	snap   map[string]entryIdent
}

// startRootWatch starts watching the tree under abs, opened as root.
func startRootWatch(root *os.Root, abs string, feed *changeFeed, log *slog.Logger) *rootWatch {
	w := newRootWatch(root, abs, feed, log)
	w.start()
	return w
}

// start starts watching.
func (w *rootWatch) start() {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		w.log.Warn("cannot watch the root for changes made behind the server's back; rescanning it periodically instead",
			"err", err, "poll_interval", watchPollEvery, "hint", "raise fs.inotify.max_user_instances")
		w.markUnwatched("")
		w.startPolling()
		return
	}
	w.fw = fw
	if w.add == nil {
		w.add = fw.Add
	}
	w.addTree("")
	go w.loop()
}

// newRootWatch returns a watcher that watches nothing yet.
func newRootWatch(root *os.Root, abs string, feed *changeFeed, log *slog.Logger) *rootWatch {
	return &rootWatch{
		root: root, abs: abs, feed: feed, log: log, done: make(chan struct{}),
		window: watchWindow, maxPending: watchMaxPending,
		pending: make(map[string]fsnotify.Op),
		busy:    make(map[string]int),
		own:     newOwnMarks(ownMarksMax),

		unwatched: make(map[string]struct{}),
	}
}

// close stops watching.
func (w *rootWatch) close() {
	close(w.done)
	if w.fw != nil {
		w.fw.Close()
	}
}

// addTree watches the directory rel and every directory below it. A
// directory that cannot be watched is rescanned periodically instead,
// with everything under it.
func (w *rootWatch) addTree(rel string) {
	top := filepath.Join(w.abs, filepath.FromSlash(rel))
	missed := false
	_ = filepath.WalkDir(top, func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		r, ok := w.rel(name)
		if !ok || isOwnTemp(r) {
			return filepath.SkipDir
		}
		if err := w.add(name); err != nil {
			if polling := w.markUnwatched(r); !missed && !polling {
				w.log.Warn("cannot watch a directory for changes made behind the server's back; rescanning it periodically instead",
					"path", r, "err", err, "poll_interval", watchPollEvery, "hint", "raise fs.inotify.max_user_watches")
			}
			missed = true
			return filepath.SkipDir
		}
		return nil
	})
	if missed {
		w.startPolling()
	}
}

// rel returns the slash-separated path of name under the root.
func (w *rootWatch) rel(name string) (string, bool) {
	r, err := filepath.Rel(w.abs, name)
	if err != nil || r != "." && !filepath.IsLocal(r) {
		return "", false
	}
	if r == "." {
		return "", true
	}
	return filepath.ToSlash(r), true
}

// isOwnTemp reports whether rel is, or lies under, a temporary or partial
// entry of the server.
func isOwnTemp(rel string) bool {
	return strings.Contains("/"+rel, "/"+tempPrefix)
}

// loop reads fsnotify's events until the watcher is closed.
func (w *rootWatch) loop() {
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.log.Warn("lost file system events under the root; clients rescan it", "err", err)
			w.addTree("")
			w.note("", 0, true)
		}
	}
}

// handle gathers one event.
func (w *rootWatch) handle(ev fsnotify.Event) {
	rel, ok := w.rel(ev.Name)
	if !ok || isOwnTemp(rel) {
		return
	}
	if rel == "" {
		// The root's own mode or times changed: the server does so at
		// the end of a pass (set root metadata). Linux reports a
		// change of mtime alone as a write (IN_MODIFY), which for a
		// directory means nothing else; changes of its entries come as
		// their own events. Anything else that happens to the root
		// itself (removed, moved) calls for a rescan.
		if ev.Op&^(fsnotify.Chmod|fsnotify.Write) == 0 {
			w.note("", fsnotify.Chmod, false)
		} else {
			w.note("", 0, true)
		}
		return
	}
	if ev.Has(fsnotify.Rename) {
		// Watches below a moved directory keep their old names.
		prefix := ev.Name + string(filepath.Separator)
		for _, p := range w.fw.WatchList() {
			if p == ev.Name || strings.HasPrefix(p, prefix) {
				_ = w.fw.Remove(p)
			}
		}
	}
	if ev.Has(fsnotify.Create) {
		if info, err := os.Lstat(ev.Name); err == nil && info.IsDir() {
			w.addTree(rel)
		}
	}
	w.note(rel, ev.Op, false)
}

// note gathers a change of rel, or a rescan of the whole tree, and arms
// the window.
func (w *rootWatch) note(rel string, op fsnotify.Op, rescan bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case rescan:
		w.overflow = true
		clear(w.pending)
	case w.overflow:
	case len(w.pending) >= w.maxPending:
		if _, ok := w.pending[rel]; !ok {
			w.overflow = true
			clear(w.pending)
		}
	}
	if !w.overflow {
		w.pending[rel] |= op
	}
	w.armLocked()
}

// armLocked starts the window unless it runs; with w.mu held. The window
// is not restarted by later events, so a steady stream of changes is
// still published every watchWindow.
func (w *rootWatch) armLocked() {
	if !w.armed {
		w.armed = true
		time.AfterFunc(w.window, w.flush)
	}
}

// flush publishes what the window gathered. Paths that a change of the
// server's own is still making wait for the next window.
func (w *rootWatch) flush() {
	w.mu.Lock()
	w.armed = false
	if w.overflow {
		w.overflow = false
		clear(w.pending)
		w.mu.Unlock()
		w.feed.publish(changeEvent{path: "", kind: kindRescan, at: time.Now()})
		return
	}
	paths := make([]string, 0, len(w.pending))
	for p := range w.pending {
		if !w.busyLocked(p) {
			paths = append(paths, p)
		}
	}
	ops := make([]fsnotify.Op, len(paths))
	for i, p := range paths {
		ops[i] = w.pending[p]
		delete(w.pending, p)
	}
	if len(w.pending) > 0 {
		w.armLocked()
	}
	w.mu.Unlock()
	if len(paths) == 0 {
		return
	}
	idents := make([]entryIdent, len(paths))
	for i, p := range paths {
		idents[i] = w.ident(p)
	}
	now := time.Now()
	evs := make([]changeEvent, len(paths))
	w.mu.Lock()
	for i, p := range paths {
		evs[i] = changeEvent{path: p, kind: kindOf(ops[i], idents[i]), own: w.own.own(p, idents[i], now), at: now}
	}
	w.own.sweep(now)
	w.mu.Unlock()
	slices.SortFunc(evs, func(a, b changeEvent) int { return engine.ComparePaths(a.path, b.path) })
	for _, ev := range evs {
		if !ev.own {
			w.log.Debug("tree changed behind the server's back", "path", ev.path, "kind", int(ev.kind))
		}
	}
	w.feed.publish(evs...)
}

// kindOf tells what happened from the events gathered for a path and what
// is there now.
func kindOf(op fsnotify.Op, now entryIdent) changeKind {
	switch {
	case !now.exists:
		return kindRemoved
	case op.Has(fsnotify.Create):
		return kindCreated
	case op == fsnotify.Chmod:
		return kindMetadata
	default:
		return kindModified
	}
}

// busyLocked reports whether a change of the server's own is in progress
// at rel, above it, or below it (where it may create rel as a parent);
// with w.mu held. The server runs few changes at once, so the scan is
// short.
func (w *rootWatch) busyLocked(rel string) bool {
	for p := range w.busy {
		if engine.IsWithin(rel, p) || engine.IsWithin(p, rel) {
			return true
		}
	}
	return false
}

// ownChange marks rel as being changed by the server itself and returns
// the function to call once the change is over (whether it failed or
// not), which records what the change left there.
func (w *rootWatch) ownChange(rel string) func() {
	w.mu.Lock()
	w.busy[rel]++
	w.mu.Unlock()
	return func() {
		id := w.ident(rel)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.busy[rel]--; w.busy[rel] == 0 {
			delete(w.busy, rel)
		}
		w.own.put(rel, id, time.Now().Add(ownTTL))
	}
}

// ident returns what is at rel now.
func (w *rootWatch) ident(rel string) entryIdent {
	name := rel
	if name == "" {
		name = "."
	}
	info, err := w.root.Lstat(name)
	if err != nil {
		return entryIdent{}
	}
	return identOf(info)
}
