package client

import (
	"errors"
	"fmt"
	"os"
)

// errRootGone is wrapped by the error of a watch-mode pass that found the
// directory to mirror gone or no longer a directory. The pass sends
// nothing: a missing directory is never an empty tree.
var errRootGone = errors.New("the directory to mirror is gone")

// checkRoot makes sure the root is still the directory watch mode watches.
// A root that is gone, or is no longer a directory, is an error wrapping
// errRootGone; the watch loop retries until it is back. A root replaced
// by another directory (moved away and made again, restored from a backup,
// or made again after a pass found it gone) loses the watches of the old one: checkRoot watches the new one and
// reports true, and the pass must then cover the whole tree.
func (w *watcher) checkRoot() (replaced bool, err error) {
	dir := w.c.opts.Dir
	info, err := os.Stat(dir)
	if err == nil && !info.IsDir() {
		err = fmt.Errorf("%s: not a directory", dir)
	}
	if err != nil {
		// The directory that comes back may well reuse the inode.
		w.rootLost = true
		return false, fmt.Errorf("%w (%w); waiting for it to come back", errRootGone, err)
	}
	old, lost := w.root, w.rootLost
	w.root, w.rootLost = info, false
	if old == nil || !lost && os.SameFile(old, info) {
		return false, nil
	}
	w.c.log.Warn("the directory to mirror was replaced; watching the new one", "dir", dir)
	if w.fw != nil {
		w.unwatchBelow(dir)
	}
	w.addTree("")
	return true, nil
}
