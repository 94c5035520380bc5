package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// pollInterval is how often watch mode rescans the directories it cannot
// watch. Mutagen's default polling interval is the same; changes there
// take up to this long to reach the server.
const pollInterval = 10 * time.Second

// watchLimitFile holds the kernel's limit on inotify watches per user.
const watchLimitFile = "/proc/sys/fs/inotify/max_user_watches"

// markWatched records that the directory rel has a watch.
func (w *watcher) markWatched(rel string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.unwatched, rel)
}

// markUnwatched records that the directory rel has no watch, unless it
// lies below one already recorded, and starts the periodic rescans.
func (w *watcher) markUnwatched(rel string) {
	w.mu.Lock()
	for p := rel; ; p = engine.ParentPath(p) {
		if _, ok := w.unwatched[p]; ok {
			w.mu.Unlock()
			return
		}
		if p == "" {
			break
		}
	}
	w.unwatched[rel] = struct{}{}
	w.mu.Unlock()
	w.pollOnce.Do(func() { close(w.poll) })
}

// forgetUnwatched forgets the unwatched directories at or below rel: they
// were moved or deleted.
func (w *watcher) forgetUnwatched(rel string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range w.unwatched {
		if engine.IsWithin(p, rel) {
			delete(w.unwatched, p)
		}
	}
}

// unwatchedDirs returns the topmost unwatched directories, sorted.
func (w *watcher) unwatchedDirs() []string {
	w.mu.Lock()
	dirs := make([]string, 0, len(w.unwatched))
	for p := range w.unwatched {
		dirs = append(dirs, p)
	}
	w.mu.Unlock()
	return engine.ReduceScopes(dirs)
}

// rescanScopes returns the directories the watch loop must rescan because
// they have no watch: it runs every pollInterval once one exists. First it
// tries to watch them again, in case watches were freed or the limit was
// raised; the ones that get a watch are still rescanned this once, for the
// changes made before it landed. Directories gone, replaced or now ignored
// are dropped: the watch on their parent saw that.
func (w *watcher) rescanScopes() []string {
	rules := w.c.rules.Load()
	retry := w.fw != nil
	var scopes []string
	for _, dir := range w.unwatchedDirs() {
		if dir != "" {
			info, err := os.Lstat(w.c.abs(dir))
			if errors.Is(err, fs.ErrNotExist) || err == nil && !info.IsDir() || rules.match(dir, true) {
				w.forgetUnwatched(dir)
				continue
			}
		}
		scopes = append(scopes, dir)
		if !retry {
			continue
		}
		switch err := w.add(w.c.abs(dir)); {
		case err == nil:
			w.addTree(dir)
		case errors.Is(err, syscall.ENOSPC):
			// Still full: try again next time.
			retry = false
		}
	}
	return scopes
}

// limitHit tells the user, once, that the inotify watch limit is reached:
// how many directories cannot be watched, what the limit is and how to
// raise it. Later hits are logged at debug level only.
func (w *watcher) limitHit(missed int) {
	w.mu.Lock()
	told := w.limitTold
	w.limitTold = true
	w.mu.Unlock()
	if told {
		w.c.log.Debug("more directories cannot be watched (inotify watch limit)", "dirs", missed)
		return
	}
	limit, err := readWatchLimit(watchLimitFile)
	if err != nil {
		w.c.log.Debug("cannot read the inotify watch limit", "err", err)
	}
	n := suggestWatchLimit(limit, missed)
	dirs := fmt.Sprintf("%d directories cannot be watched, so they are", missed)
	if missed == 1 {
		dirs = "1 directory cannot be watched, so it is"
	}
	w.c.log.Warn(fmt.Sprintf("inotify watch limit reached: %s rescanned every %v instead "+
		"and changes there take that long to arrive. "+
		"To watch them all, raise the limit: sudo sysctl fs.inotify.max_user_watches=%d; "+
		"to keep it after a reboot: echo fs.inotify.max_user_watches=%d | sudo tee /etc/sysctl.d/90-dirsync.conf. "+
		"The client starts watching by itself once there is room",
		dirs, w.c.pollEvery, n, n),
		"max_user_watches", limit, "unwatched_dirs", missed)
}

// readWatchLimit reads the inotify watch limit from file; 0 means
// unknown.
func readWatchLimit(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read watch limit: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read watch limit %s: %w", file, err)
	}
	return n, nil
}

// suggestWatchLimit returns a watch limit to suggest when limit (0 if
// unknown) left missed directories unwatched: room for twice the missing
// watches, at least double the current limit, rounded up to a multiple of
// 64 Ki. The limit counts the watches of every process of the user, so
// the exact need is unknown; watches cost about 1 KiB of kernel memory
// each.
func suggestWatchLimit(limit, missed int) int {
	const step = 64 << 10
	if limit <= 0 {
		limit = 256 << 10
	}
	n := max(2*limit, limit+2*missed)
	return (n + step - 1) / step * step
}
