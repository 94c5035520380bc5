package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// ErrOverlap is wrapped by the error of a pass that found the directory to
// mirror inside the server's root, or the same directory: the server would
// mirror the directory into itself, deleting its own source as it goes.
// Retrying cannot help, so neither SyncOnce nor Watch retries it.
var ErrOverlap = errors.New("the directory to mirror lies inside the server's root")

// checkOverlap compares, once per Client, the directory with the server's
// root as Status describes it (see StatusResponse.root_id); device and
// inode numbers compare only on the same machine, which is the only place
// the two can overlap. A directory inside the root, or the root itself, is
// an error wrapping ErrOverlap. A root inside the directory is left out
// of every pass from then on, as if excluded, with one warning: mirroring
// it would copy the mirror into itself, one level deeper at each pass,
// while leaving it out mirrors everything else the user asked for and
// touches neither tree. A server that does not say where its root lies
// is not checked.
func (c *Client) checkOverlap(ctx context.Context) error {
	if c.overlapChecked {
		return nil
	}
	// Without the counts, which would cost the server a scan of its
	// tree before every first pass.
	resp, err := c.rpc.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{OmitTreeCounts: true}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeUnimplemented {
			c.overlapChecked = true
			return nil
		}
		return fmt.Errorf("status: %w", err)
	}
	c.overlapChecked = true
	rel, err := c.findOverlap(resp.Msg)
	if err != nil || rel == "" {
		return err
	}
	rules := c.rules.Load()
	for p := rel; p != ""; p = engine.ParentPath(p) {
		if rules.match(p, true) {
			return nil // excluded already
		}
	}
	c.log.Warn("the server's root lies inside the directory to mirror; leaving it out, as if excluded",
		"path", rel, "hint", "exclude it yourself (--exclude /"+rel+"/) or pick a server root outside the directory")
	c.skipDirs = append(c.skipDirs, rel)
	c.rules.Store(rules.withSkip(c.skipDirs))
	return nil
}

// findOverlap returns the path of the server's root inside the directory,
// "" if it is not inside, or an error wrapping ErrOverlap if the directory
// is inside the root or is it.
func (c *Client) findOverlap(st *dirsyncv1.StatusResponse) (string, error) {
	machine := engine.MachineID()
	if st.GetRootId() == nil || machine == "" || st.GetMachineId() != machine {
		return "", nil
	}
	root := fileIDFromProto(st.GetRootId())
	self, ancestors, ok, err := engine.DirIDs(c.opts.Dir)
	if err != nil || !ok {
		c.log.Debug("cannot identify the directory for the overlap check", "err", err)
		return "", nil
	}
	if self == root {
		return "", fmt.Errorf("%w: it is the server's root; the server would mirror the directory onto itself", ErrOverlap)
	}
	if slices.Contains(ancestors, root) {
		return "", fmt.Errorf("%w: the server would write the mirror around the directory and delete the directory itself; pick a directory outside the server's root, or another root", ErrOverlap)
	}
	rootAncestors := st.GetRootAncestorIds()
	k := slices.IndexFunc(rootAncestors, func(a *dirsyncv1.FileID) bool { return fileIDFromProto(a) == self })
	if k < 0 {
		return "", nil
	}
	// Walk down from the directory: the root's ancestors below it, from
	// the top, then the root.
	var chain []engine.FileID
	for i := k - 1; i >= 0; i-- {
		chain = append(chain, fileIDFromProto(rootAncestors[i]))
	}
	chain = append(chain, root)
	rel, dir := "", c.opts.Dir
	for _, want := range chain {
		name, ok := childWithID(dir, want)
		if !ok {
			c.log.Debug("the server's root lies below the directory, but was not found there", "depth", len(chain))
			return "", nil
		}
		rel, dir = path.Join(rel, name), filepath.Join(dir, name)
	}
	return rel, nil
}

// childWithID returns the name of the subdirectory of dir (not a symlink
// to one) whose FileID is want.
func childWithID(dir string, want engine.FileID) (string, bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if id, ok := engine.FileIDOf(info); ok && id == want {
			return e.Name(), true
		}
	}
	return "", false
}

// fileIDFromProto converts a FileID message.
func fileIDFromProto(id *dirsyncv1.FileID) engine.FileID {
	return engine.FileID{Device: id.GetDevice(), Inode: id.GetInode()}
}
