package client

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/engine"
)

// Values of Options.MaxDelete besides a positive limit.
const (
	// MaxDeleteAuto, the zero value, applies the default rule: a pass may
	// not delete more than half of the entries the server holds when
	// that is more than [AutoDeleteFloor] entries.
	MaxDeleteAuto = 0
	// MaxDeleteUnlimited lets a pass delete any number of entries.
	MaxDeleteUnlimited = -1
	// MaxDeleteNone lets a pass delete nothing at all.
	MaxDeleteNone = -2
)

// AutoDeleteFloor is how many entries a pass may always delete under
// [MaxDeleteAuto], however small the server's tree: below it, deleting
// half of a small tree (a test directory of 12 files, say) is an ordinary
// edit. Above it, losing most of the mirror in one pass is what a wrong
// directory or a directory emptied by mistake looks like, while deleting a
// build directory from a large tree still goes through.
const AutoDeleteFloor = 10

// heldPathsShown is how many of the held paths a message names.
const heldPathsShown = 5

// DeleteHold describes the deletions a pass held back because they would
// have emptied the server's tree or gone past Options.MaxDelete. The pass
// sent none of them, nor anything that had to replace them; it sent the
// rest of its changes.
type DeleteHold struct {
	// Entries counts what the held deletions would have removed on the
	// server: files, directories and symlinks, a directory with all its
	// subtree.
	Entries int
	// ServerEntries counts the entries the server held (less ignored
	// ones), when the pass listed its whole tree; 0 otherwise.
	ServerEntries int
	// Paths are the topmost paths the pass would have deleted, in path
	// order.
	Paths []string
	// Reason says which rule held them.
	Reason string
	// Hint says how to allow the deletions, in terms of the command's
	// flags.
	Hint string
}

// Error describes the hold in one sentence, naming the first few paths.
func (h *DeleteHold) Error() string {
	shown := h.Paths[:min(len(h.Paths), heldPathsShown)]
	more := ""
	if len(h.Paths) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(h.Paths)-len(shown))
	}
	return fmt.Sprintf("refusing to delete %d entries on the server (%s): %s%s; %s; %s",
		h.Entries, plural(len(h.Paths), "path"), strings.Join(shown, ", "), more, h.Reason, h.Hint)
}

// plural renders n with noun, made plural with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkDeletes applies the deletion rules of the options to a plan whose
// deletions remove n entries, of which lost are not made again elsewhere
// by the plan (see [countLost]). recent counts what earlier passes lost
// within [deleteWindow] (see [deleteTally]). total is the number of
// entries the server holds, -1 when the pass did not list the whole tree;
// empties
// says that the plan leaves the server's tree empty. It returns the hold,
// nil when the deletions may go, and whether the pass must list the whole
// tree to decide (a scoped pass knows neither the total nor whether the
// tree ends up empty).
//
// An explicit Options.MaxDelete bounds n, as rsync's --max-delete does.
// The default rule bounds lost instead: renaming a directory that holds
// most of the tree deletes most of it, but loses nothing. It adds recent
// to lost, and weighs the sum against the tree as it was before those
// earlier deletions, so that many small passes cannot remove what one
// pass could not.
func (o Options) checkDeletes(n, lost, recent, total int, empties bool) (hold *DeleteHold, needTotal bool) {
	if n == 0 {
		return nil, false
	}
	if empties && !o.AllowEmpty {
		if total < 0 {
			return nil, true
		}
		return &DeleteHold{Entries: n, ServerEntries: total,
			Reason: fmt.Sprintf("they would empty the server's tree of its %d entries, as an empty or wrong directory would", total),
			Hint:   "if the directory really is meant to be empty, run with --allow-empty"}, false
	}
	switch {
	case o.MaxDelete == MaxDeleteNone:
		return &DeleteHold{Entries: n, ServerEntries: max(total, 0),
			Reason: "--max-delete 0 forbids deletions",
			Hint:   "run with another --max-delete to allow them"}, false
	case o.MaxDelete > 0 && n > o.MaxDelete:
		return &DeleteHold{Entries: n, ServerEntries: max(total, 0),
			Reason: fmt.Sprintf("that is more than --max-delete %d", o.MaxDelete),
			Hint:   fmt.Sprintf("if that is intended, run once with --max-delete %d (or -1 for no limit)", n)}, false
	case o.MaxDelete == MaxDeleteAuto && lost > 0 && lost+recent > AutoDeleteFloor && !(empties && o.AllowEmpty):
		if total < 0 {
			return nil, true
		}
		if 2*(lost+recent) > total+recent {
			reason := fmt.Sprintf("%d of them are not moved elsewhere, more than half of the %d entries the server holds", lost, total)
			if recent > 0 {
				reason = fmt.Sprintf("%d of them are not moved elsewhere; with the %d deleted in the last %s, more than half of the %d entries the server held",
					lost, recent, deleteWindow, total+recent)
			}
			return &DeleteHold{Entries: n, ServerEntries: total, Reason: reason,
				Hint: fmt.Sprintf("if that is intended, run once with --max-delete %d (or -1 for no limit)", n)}, false
		}
	}
	return nil, false
}

// countDeleted returns how many entries of remote the deletions dels
// remove: each deleted path with its whole subtree as remote lists it.
func countDeleted(dels []engine.Entry, remote engine.Manifest) int {
	if len(dels) == 0 {
		return 0
	}
	deleted := make(map[string]bool, len(dels))
	for _, d := range dels {
		deleted[d.Path] = true
	}
	n := 0
	for _, e := range remote {
		if withinAny(e.Path, deleted) {
			n++
		}
	}
	return n
}

// countLost returns how many entries of remote the plan's deletions remove
// without making them again elsewhere: a file counts unless the plan sends
// a file of the same size and modification time (a moved file keeps
// both), a symlink unless it makes one with the same target, a directory
// unless it makes one of the same name.
func countLost(plan engine.Plan, remote engine.Manifest) int {
	if len(plan.Delete) == 0 {
		return 0
	}
	type fileKey struct{ size, mtime int64 }
	files := make(map[fileKey]bool, len(plan.Send))
	for _, fc := range plan.Send {
		files[fileKey{fc.Local.Size, fc.Local.MtimeNs}] = true
	}
	links := make(map[string]bool, len(plan.Symlink))
	for _, e := range plan.Symlink {
		links[e.LinkTarget] = true
	}
	dirs := make(map[string]bool, len(plan.Mkdir))
	for _, e := range plan.Mkdir {
		dirs[path.Base(e.Path)] = true
	}
	deleted := make(map[string]bool, len(plan.Delete))
	for _, d := range plan.Delete {
		deleted[d.Path] = true
	}
	n := 0
	for _, e := range remote {
		if !withinAny(e.Path, deleted) {
			continue
		}
		switch {
		case e.Type == engine.TypeFile && files[fileKey{e.Size, e.MtimeNs}],
			e.Type == engine.TypeSymlink && links[e.LinkTarget],
			e.Type == engine.TypeDir && dirs[path.Base(e.Path)]:
			continue
		}
		n++
	}
	return n
}

// withinAny reports whether p or one of its ancestors is in paths.
func withinAny(p string, paths map[string]bool) bool {
	for ; p != ""; p = engine.ParentPath(p) {
		if paths[p] {
			return true
		}
	}
	return false
}

// withoutDeletes returns plan without its deletions, nor the entries it
// would create at or below a deleted path (a type change): those could not
// land while the old entry stays.
func withoutDeletes(plan engine.Plan) engine.Plan {
	deleted := make(map[string]bool, len(plan.Delete))
	for _, d := range plan.Delete {
		deleted[d.Path] = true
	}
	blocked := func(p string) bool { return withinAny(p, deleted) }
	keep := func(es []engine.Entry) []engine.Entry {
		var out []engine.Entry
		for _, e := range es {
			if !blocked(e.Path) {
				out = append(out, e)
			}
		}
		return out
	}
	var send []engine.FileChange
	for _, fc := range plan.Send {
		if !blocked(fc.Local.Path) {
			send = append(send, fc)
		}
	}
	var links []engine.Entry
	for _, e := range plan.Link {
		if !blocked(e.Path) && !blocked(e.HardlinkTarget) {
			links = append(links, e)
		}
	}
	return engine.Plan{Mkdir: keep(plan.Mkdir), Send: send, Symlink: keep(plan.Symlink), Link: links,
		Special: keep(plan.Special), SetMeta: keep(plan.SetMeta)}
}

// rootEmpty reports whether the local root holds nothing the ignore rules
// let through: a pass over it would leave the server's tree empty.
func (c *Client) rootEmpty() bool {
	ents, err := os.ReadDir(c.opts.Dir)
	if err != nil {
		// Unreadable or gone: the pass's own scan fails or protects it.
		return false
	}
	rules := c.rules.Load()
	for _, e := range ents {
		if !rules.match(e.Name(), e.IsDir()) {
			return false
		}
	}
	return true
}

// reportHold logs the deletions a pass held back, once: watch mode retries
// them until they may go, and a message on every retry would drown the
// log. A pass over scopes (nil for the whole tree) that covers every held
// path and holds nothing ends the hold, and says so.
func (c *Client) reportHold(hold *DeleteHold, scopes []string) {
	if hold != nil {
		if c.held == nil {
			c.log.Error("deletions held back: "+hold.Error(), "entries", hold.Entries, "server_entries", hold.ServerEntries)
		} else {
			c.log.Debug("deletions still held back", "entries", hold.Entries, "paths", len(hold.Paths))
		}
		c.held = hold.Paths
		return
	}
	if c.held == nil || c.opts.DryRun {
		return
	}
	for _, p := range c.held {
		if scopes != nil && !slices.ContainsFunc(scopes, func(s string) bool { return engine.IsWithin(p, s) }) {
			return
		}
	}
	c.held = nil
	c.log.Info("deletions no longer held back: the local tree is back, or they are within the limits now")
}
