package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/dirsync/dirsync/engine"
)

// Watch keeps the server a mirror of the directory until ctx ends: a full
// pass first (with a progress bar if Options.Progress is set), then an
// incremental pass over the paths that changed each time file system
// events pause. Failed items are retried with backoff, and when the server
// cannot be reached, passes are retried with backoff and the first one
// after it is back is a full pass. If the tree cannot be watched (the
// inotify watch limit, say) it falls back to a full pass every 10 seconds.
// Watch returns nil when ctx ends, and an error if it cannot start or if
// the server refuses the client's credentials (the error then wraps
// [ErrAuth]): retrying a refused token would never end.
func (c *Client) Watch(ctx context.Context) error {
	co := newCoalescer(coalesceWindow, maxPendingPaths)
	defer co.stop()
	w, err := c.newWatcher(co)
	if err != nil {
		return err
	}
	defer w.close()
	w.addTree("")
	go w.loop(ctx)
	l := &watchLoop{
		co:          co,
		pass:        c.watchPass(w),
		log:         c.log,
		poll:        w.poll,
		pollEvery:   pollInterval,
		connBackoff: newBackoff(backoffMin, backoffMax),
		failBackoff: newBackoff(backoffMin, backoffMax),
	}
	return l.run(ctx)
}

// watchPass returns the pass function of watch mode: before each pass it
// re-reads the ignore file; if the rules changed, the pass is a full one
// and newly included directories get watched.
func (c *Client) watchPass(w *watcher) passFunc {
	return func(ctx context.Context, scopes []string, progress bool) (Summary, error) {
		changed, err := c.reloadIgnore()
		if err != nil {
			c.log.Warn("keeping the previous ignore rules", "err", err)
		}
		if changed {
			c.log.Info("ignore rules changed; running a full pass")
			scopes = nil
			w.addTree("")
		}
		return c.runPass(ctx, scopes, progress)
	}
}

// watcher turns fsnotify events on the tree into dirty paths for a
// coalescer, adding a watch on every directory as it appears.
type watcher struct {
	c  *Client
	fw *fsnotify.Watcher
	co *coalescer
	// poll is closed, once, when watching stops being possible.
	poll     chan struct{}
	pollOnce sync.Once
}

// newWatcher starts an fsnotify watcher feeding co. If the system refuses
// one (too many inotify instances), it returns a watcher that only polls.
func (c *Client) newWatcher(co *coalescer) (*watcher, error) {
	w := &watcher{c: c, co: co, poll: make(chan struct{})}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		c.log.Error("cannot watch the directory; falling back to a full pass every 10s",
			"err", err, "poll_interval", pollInterval)
		w.stopWatching()
		return w, nil
	}
	w.fw = fw
	return w, nil
}

// close stops watching.
func (w *watcher) close() {
	if w.fw != nil {
		w.fw.Close()
	}
}

// stopWatching switches watch mode to polling.
func (w *watcher) stopWatching() {
	w.pollOnce.Do(func() { close(w.poll) })
}

// polling reports whether watching has stopped.
func (w *watcher) polling() bool {
	select {
	case <-w.poll:
		return true
	default:
		return false
	}
}

// addTree adds a watch on the directory rel ("" for the root) and every
// directory below it that is not ignored.
func (w *watcher) addTree(rel string) {
	if w.fw == nil || w.polling() {
		return
	}
	rules := w.c.rules.Load()
	root := w.c.abs(rel)
	_ = filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
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
		if err := w.fw.Add(name); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				w.limitHit()
				return filepath.SkipAll
			}
			w.c.log.Debug("cannot watch directory", "path", r, "err", err)
		}
		return nil
	})
}

// limitHit explains the inotify watch limit and switches to polling.
func (w *watcher) limitHit() {
	limit := "unknown"
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches"); err == nil {
		limit = strings.TrimSpace(string(b))
	}
	w.c.log.Error("inotify watch limit reached; falling back to a full pass every 10s. "+
		"Raise the limit with: sudo sysctl fs.inotify.max_user_watches=N "+
		"(add it to /etc/sysctl.d/ to keep it), then restart the client",
		"max_user_watches", limit, "poll_interval", pollInterval)
	w.stopWatching()
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
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.c.log.Warn("file system events were lost; running a full pass")
			} else {
				w.c.log.Warn("watch error; running a full pass", "err", err)
			}
			w.co.addFull()
		}
	}
}

// handle turns one event into a dirty path.
func (w *watcher) handle(ev fsnotify.Event) {
	rel, ok := w.rel(ev.Name)
	if !ok {
		return
	}
	if rel == "" || rel == IgnoreFile {
		// The root itself changed, or the rules did: start over.
		w.co.addFull()
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
	w.co.add(rel)
}

// unwatchBelow removes the watches on name and below it.
func (w *watcher) unwatchBelow(name string) {
	prefix := name + string(filepath.Separator)
	for _, p := range w.fw.WatchList() {
		if p == name || strings.HasPrefix(p, prefix) {
			_ = w.fw.Remove(p)
		}
	}
}
