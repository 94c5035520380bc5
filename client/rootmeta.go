package client

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// rootName is how summaries and logs name the root directory itself,
// which has no path of its own.
const rootName = "."

// rootFromProto converts the server's description of its root directory,
// from GetManifest: a directory with no path and a mode of at most 07777.
func rootFromProto(p *dirsyncv1.Entry) (engine.Entry, error) {
	e, err := entryFromProto(p)
	switch {
	case err != nil:
		return engine.Entry{}, fmt.Errorf("root: %w", err)
	case e.Path != "" || e.Type != engine.TypeDir || e.Mode > 0o7777:
		return engine.Entry{}, fmt.Errorf("root: %q of type %v and mode %#o, want a directory with no path", e.Path, e.Type, e.Mode)
	}
	return e, nil
}

// localRoot describes the local root directory itself, following a
// symlink to it as a scan does.
func (c *Client) localRoot() (engine.Entry, error) {
	info, err := os.Stat(c.opts.Dir)
	if err != nil {
		return engine.Entry{}, fmt.Errorf("stat root: %w", err)
	}
	return engine.EntryFromInfo("", info, "")
}

// syncRoot gives the server's root directory the mode and mtime of the
// local one, as rsync does with the top directory of a transfer, when the
// manifest of this pass described it (servers from before root metadata
// do not) and they differ, or plan, which the pass has applied, changed
// entries in the root: the manifest's description is then stale. It runs
// after every other change of the pass, each of which may have moved the
// server root's mtime. Set-id bits are compared only where the server
// keeps them.
func (p *pass) syncRoot(ctx context.Context, plan engine.Plan) error {
	remote := p.c.remoteRoot.Load()
	if remote == nil {
		return nil
	}
	local, err := p.c.localRoot()
	if err != nil {
		p.fail(rootName, "set root metadata", err)
		return nil
	}
	mask := uint32(0o7777)
	if p.c.dropsSetid.Load() {
		mask &^= modeSetid
	}
	if !touchesRoot(plan) && local.Mode&mask == remote.Mode&mask && local.MtimeNs == remote.MtimeNs {
		return nil
	}
	ch := &dirsyncv1.Change{Action: &dirsyncv1.Change_SetRootMetadata{SetRootMetadata: entryToProto(local)}}
	return p.c.applyChanges(ctx, []*dirsyncv1.Change{ch}, func(_ int, r *dirsyncv1.ChangeResult) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.GetCode() != 0 {
			p.failCodeLocked(rootName, "set root metadata", r.GetCode(), r.GetMessage())
			return
		}
		p.sum.Metadata++
	})
}

// touchesRoot reports whether plan creates, replaces or deletes an entry
// directly in the root, which moves the root's mtime on the server
// (writing a file there goes through a temporary file in the root).
func touchesRoot(plan engine.Plan) bool {
	inRoot := func(p string) bool { return engine.ParentPath(p) == "" }
	for _, list := range [][]engine.Entry{plan.Delete, plan.Mkdir, plan.Symlink, plan.Link, plan.Special} {
		if slices.ContainsFunc(list, func(e engine.Entry) bool { return inRoot(e.Path) }) {
			return true
		}
	}
	return slices.ContainsFunc(plan.Send, func(fc engine.FileChange) bool { return inRoot(fc.Local.Path) })
}
