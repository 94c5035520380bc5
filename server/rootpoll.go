package server

// The fallback for what inotify cannot watch: a periodic rescan.

import (
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// markUnwatched records that the directory rel has no watch, and reports
// whether polling was on already.
func (w *rootWatch) markUnwatched(rel string) (polling bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unwatched[rel] = struct{}{}
	return w.polling
}

// startPolling turns on the periodic rescan, once, starting from a
// rescan made now.
func (w *rootWatch) startPolling() {
	w.mu.Lock()
	if w.polling {
		w.mu.Unlock()
		return
	}
	w.polling = true
	w.mu.Unlock()
	w.pollMu.Lock()
	w.snap = w.scan()
	w.pollMu.Unlock()
	go func() {
		t := time.NewTicker(watchPollEvery)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.poll()
			}
		}
	}()
}

// poll rescans the unwatched directories and gathers what differs from
// the last rescan.
func (w *rootWatch) poll() {
	w.pollMu.Lock()
	defer w.pollMu.Unlock()
	cur := w.scan()
	for p, id := range cur {
		if old, ok := w.snap[p]; !ok {
			w.note(p, fsnotify.Create, false)
		} else if !old.same(id) {
			w.note(p, fsnotify.Write, false)
		}
	}
	for p := range w.snap {
		if _, ok := cur[p]; !ok {
			w.note(p, fsnotify.Remove, false)
		}
	}
	w.snap = cur
}

// scan lists every entry under the unwatched directories but the
// server's temporary ones.
func (w *rootWatch) scan() map[string]entryIdent {
	w.mu.Lock()
	tops := make([]string, 0, len(w.unwatched))
	for p := range w.unwatched {
		tops = append(tops, p)
	}
	w.mu.Unlock()
	out := make(map[string]entryIdent)
	for _, top := range tops {
		w.scanUnder(top, out)
	}
	return out
}

// scanUnder adds the entries under the directory top to out.
func (w *rootWatch) scanUnder(top string, out map[string]entryIdent) {
	start := top
	if start == "" {
		start = "."
	}
	_ = fs.WalkDir(w.root.FS(), start, func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return nil
		}
		if strings.HasPrefix(path.Base(name), tempPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err == nil {
			out[name] = identOf(info)
		}
		return nil
	})
}
