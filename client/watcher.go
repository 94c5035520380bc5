package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/dirsync/dirsync/engine"
)

// Watch keeps the server a mirror of the directory until ctx ends: a full
// pass first (with a progress bar if Options.Progress is set), then an
// incremental pass over the paths that changed: at once for a change after
// a calm spell, and at most every 10 ms under a burst of changes, so that
// a file written without pause cannot hold back itself or anything else
// (see [burstGap]); removals, and changes to the ignore file, wait until
// their events pause (see [removeQuiet]). Failed items are retried with backoff, and when the server
// cannot be reached, passes are retried with backoff and the first one
// after it is back is a full pass. Directories that cannot be watched
// (past the inotify watch limit, say) are rescanned every 10 seconds
// instead, and watched as soon as the limit allows. Watch returns nil when
// ctx ends, and an error if it cannot start or if the server refuses the
// client's credentials (the error then wraps [ErrAuth]): retrying a
// refused token would never end.
//
// The server's copy is kept too: Watch follows the server's stream of
// changes (WatchChanges) and repairs, with a scoped pass, every path that
// something other than the server's own work for a client changed behind
// its back; a full pass runs when the stream says it lost track, and when
// the server restarted. A full verification pass also runs every
// Options.VerifyInterval, for what no event reported.
func (c *Client) Watch(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx) // ends followDrift's stream
	defer cancel()
	co := newCoalescer(burstGap, maxPendingPaths)
	defer co.stop()
	c.opts.Metrics.watching(co)
	defer c.opts.Metrics.watching(nil)
	w := c.newWatcher(co)
	defer w.close()
	if _, err := w.checkRoot(); err != nil {
		return err
	}
	w.addTree("")
	go w.loop(ctx)
	c.followDrift(ctx, co)
	l := &watchLoop{
		co:          co,
		pass:        c.watchPass(w),
		log:         c.log,
		poll:        w.poll,
		pollEvery:   c.pollEvery,
		rescan:      w.rescanScopes,
		connBackoff: newBackoff(backoffMin, backoffMax),
		failBackoff: newBackoff(backoffMin, backoffMax),
		verifyEvery: c.opts.VerifyInterval,
	}
	return l.run(ctx)
}

// watchPass returns the pass function of watch mode: before each pass it
// checks that the root is still there (see [watcher.checkRoot]) and
// re-reads the ignore file; if the root was replaced or the rules
// changed, the pass is a full one and the new directories get watched.
func (c *Client) watchPass(w *watcher) passFunc {
	return func(ctx context.Context, scopes []string, progress bool) (Summary, error) {
		// Before the ignore file is read: a root that is gone has none.
		replaced, err := w.checkRoot()
		if err != nil {
			return Summary{}, err
		}
		changed, err := c.reloadIgnore()
		if err != nil {
			c.log.Warn("keeping the previous ignore rules", "err", err)
		}
		if changed {
			c.log.Info("ignore rules changed; running a full pass")
			scopes = nil
			w.addTree("")
		}
		if replaced {
			scopes = nil
		}
		c.sawAt = w.co.takenSince()
		sum, err := c.runPass(ctx, scopes, progress)
		if scopes == nil || sum.Files >= releaseFiles {
			// The pass's manifests and buffers are garbage now. Without
			// this the runtime keeps their pages for minutes, and a
			// watching client idles at several times its live heap.
			debug.FreeOSMemory()
		}
		return sum, err
	}
}

// releaseFiles is how many files a pass must cover for watch mode to hand
// the memory it freed back to the system right away, as it does after
// every full pass: forcing that costs a garbage collection, a few
// milliseconds for a heap of tens of megabytes.
const releaseFiles = 10000

// watcher turns fsnotify events on the tree into dirty paths for a
// coalescer, adding a watch on every directory as it appears. The
// directories it cannot watch are kept in unwatched for periodic rescans
// (see watchlimit.go). Its methods are safe for concurrent use.
type watcher struct {
	c  *Client
	fw *fsnotify.Watcher // nil if inotify could not be started at all
	co *coalescer
	// add, events and errs are fw's Add, Events and Errors; tests
	// replace them to inject failures.
	add    func(name string) error
	events <-chan fsnotify.Event
	errs   <-chan error
	// poll is closed, once, when the first directory cannot be watched:
	// the watch loop then starts its periodic rescans.
	poll     chan struct{}
	pollOnce sync.Once

	mu sync.Mutex
	// unwatched holds the topmost directories (slash-separated, "" for
	// the root) that have no watch: nothing below one of them is watched
	// either.
	unwatched map[string]struct{}
	// limitTold records that the watch limit was explained to the user,
	// which happens once.
	limitTold bool
	// root describes the root directory as the last pass found it (see
	// [watcher.checkRoot]); only the watch loop's goroutine uses it.
	root os.FileInfo
	// rootLost is set when a pass found the root gone.
	rootLost bool
}

// newWatcher starts an fsnotify watcher feeding co. If the system refuses
// one (too many inotify instances), it says so and returns a watcher for
// which the whole tree is unwatched, so that it is rescanned periodically.
func (c *Client) newWatcher(co *coalescer) *watcher {
	w := &watcher{c: c, co: co, poll: make(chan struct{}), unwatched: make(map[string]struct{})}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		c.log.Warn("cannot watch the directory (too many inotify instances? see fs.inotify.max_user_instances); "+
			"running a full pass periodically instead", "err", err, "poll_interval", c.pollEvery)
		w.markUnwatched("")
		return w
	}
	w.fw, w.add, w.events, w.errs = fw, fw.Add, fw.Events, fw.Errors
	if c.watchHook != nil {
		c.watchHook(w)
	}
	return w
}

// close stops watching.
func (w *watcher) close() {
	if w.fw != nil {
		w.fw.Close()
	}
}

// addTree adds a watch on the directory rel ("" for the root) and every
// directory below it that is not ignored. Once the kernel refuses a watch
// for lack of room (ENOSPC), it stops asking and records the directories
// left unwatched.
func (w *watcher) addTree(rel string) {
	if w.fw == nil {
		return
	}
	rules := w.c.rules.Load()
	full := false
	missed := 0
	top := w.c.abs(rel)
	if rel == "" {
		// The trailing separator makes WalkDir resolve a root that is
		// a symlink to a directory, as the scan does; without it,
		// nothing below such a --dir was watched.
		top += string(filepath.Separator)
	}
	_ = filepath.WalkDir(top, func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			// Gone or unreadable: the pass reports it.
			return nil
		}
		r, ok := w.rel(name)
		if !ok {
			return filepath.SkipDir
		}
		if rules.match(r, true) {
			return filepath.SkipDir
		}
		if !full {
			err := w.add(name)
			switch {
			case err == nil:
				w.markWatched(r)
				return nil
			case errors.Is(err, syscall.ENOSPC):
				full = true
			default:
				w.c.log.Debug("cannot watch directory", "path", r, "err", err)
				return nil
			}
		}
		missed++
		w.markUnwatched(r)
		return nil
	})
	if missed > 0 {
		w.limitHit(missed)
	}
}

// rel returns the slash-separated path of name relative to the root, and
// false if name is not under the root.
func (w *watcher) rel(name string) (string, bool) {
	r, err := filepath.Rel(w.c.opts.Dir, name)
	if err != nil || !filepath.IsLocal(r) && r != "." {
		return "", false
	}
	if r == "." {
		return "", true
	}
	return filepath.ToSlash(r), true
}

// loop handles events until ctx ends or the watcher is closed.
func (w *watcher) loop(ctx context.Context) {
	if w.fw == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.errs:
			if !ok {
				return
			}
			w.lost(err)
		}
	}
}

// lost handles an error from fsnotify: events may have been lost (the
// kernel's event queue overflowed, say), so directories made meanwhile may
// lack a watch and changes may have gone unseen. It adds the missing
// watches and asks for a full pass, which rescans everything watched.
func (w *watcher) lost(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.c.log.Warn("file system events were lost (inotify queue overflow); rescanning the tree",
			"hint", "raise fs.inotify.max_queued_events if this happens often")
	} else {
		w.c.log.Warn("watch error; rescanning the tree", "err", err)
	}
	w.addTree("")
	w.co.addFull()
}

// handle turns one event into a dirty path.
func (w *watcher) handle(ev fsnotify.Event) {
	rel, ok := w.rel(ev.Name)
	if !ok {
		return
	}
	if rel == "" {
		// The root itself changed: start over.
		w.co.addFull()
		return
	}
	if rel == IgnoreFile {
		// The rules changed: start over once the file is written.
		w.co.addRulesChanged()
		return
	}
	if engine.ValidatePath(rel) != nil {
		// Not a name dirsync can send; the scan reports it.
		return
	}
	info, err := os.Lstat(ev.Name)
	isDir := err == nil && info.IsDir()
	if w.c.rules.Load().match(rel, isDir) {
		return
	}
	if ev.Has(fsnotify.Rename) {
		// Watches below a moved directory keep their old names; drop
		// them, and the move's Create on the new name adds fresh ones.
		w.unwatchBelow(ev.Name)
	}
	if isDir && ev.Has(fsnotify.Create) {
		// Files made before this watch landed are found by the scope's
		// scan, which covers the whole new directory.
		w.addTree(rel)
	}
	if ev.Op == fsnotify.Remove && errors.Is(err, fs.ErrNotExist) {
		// Still gone: it waits for removals to pause (see
		// [removeQuiet]). A move is a Rename, not a Remove.
		w.co.addRemoved(rel)
		return
	}
	w.co.add(rel)
}

// unwatchBelow removes the watches on name and below it, and forgets the
// unwatched directories there.
func (w *watcher) unwatchBelow(name string) {
	if rel, ok := w.rel(name); ok {
		w.forgetUnwatched(rel)
	}
	prefix := name + string(filepath.Separator)
	for _, p := range w.fw.WatchList() {
		if p == name || strings.HasPrefix(p, prefix) {
			_ = w.fw.Remove(p)
		}
	}
}
