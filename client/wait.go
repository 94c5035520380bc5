package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// waitRecheck is how often [Client.WaitForSync] compares again when the
// server's change stream says nothing: a server without the stream, or a
// change the stream missed, still ends the wait within that time.
const waitRecheck = time.Second

// waitSettle is how long [Client.WaitForSync] lets the server's changes
// settle after it hears of one before it compares again.
const waitSettle = 100 * time.Millisecond

// WaitForSync returns nil once the server holds the local tree as it was
// when WaitForSync was called. It never changes the server: another
// process (a watching client) is expected to do the syncing, and the
// barrier only observes, so that it never races that client's passes nor
// sends anything twice.
//
// It scans the tree once at the call, then compares that snapshot with
// the server's listing (by type, size, mode and mtime, as passes do),
// again after every change the server reports on its change stream and
// at least every second. A path counts as synced when the server holds it
// as it was at the call or as it is now: an edit made after the call,
// and already sent, does not hold the barrier forever.
//
// When ctx ends first, it returns the paths still pending, in path order,
// and an error wrapping ctx's. Errors reaching the server wrap
// [ErrUnavailable] or [ErrAuth]; unavailability is retried until ctx
// ends.
func (c *Client) WaitForSync(ctx context.Context) ([]string, error) {
	snapshot, _, err := c.scanLocal(nil, nil)
	if err != nil {
		return nil, err
	}
	wake := make(chan struct{}, 1)
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.followForWait(streamCtx, wake)

	var pending []string
	for {
		pending, err = c.pendingSince(ctx, snapshot)
		switch {
		case err == nil && len(pending) == 0:
			return nil, nil
		case err != nil && ctx.Err() == nil:
			err = c.classify(err)
			if !errors.Is(err, ErrUnavailable) {
				return nil, err
			}
			c.log.Debug("server unavailable; waiting", "err", err)
		}
		select {
		case <-ctx.Done():
			if err != nil && pending == nil {
				return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
			}
			return pending, ctx.Err()
		case <-wake:
			// A pass sends many changes in a row: compare once they
			// pause rather than after each.
			select {
			case <-ctx.Done():
			case <-time.After(waitSettle):
			}
		case <-time.After(waitRecheck):
		}
	}
}

// pendingSince returns the paths the server does not hold as they are in
// snapshot nor as they are in the local tree now.
func (c *Client) pendingSince(ctx context.Context, snapshot engine.Manifest) ([]string, error) {
	remote, err := c.fetchManifest(ctx, nil)
	if err != nil {
		return nil, err
	}
	then := planPaths(c.planAgainst(snapshot, remote))
	if len(then) == 0 {
		return nil, nil
	}
	current, _, err := c.scanLocal(nil, nil)
	if err != nil {
		return nil, err
	}
	now := planPaths(c.planAgainst(current, remote))
	maps.DeleteFunc(then, func(p string, _ bool) bool { return !now[p] })
	return slices.SortedFunc(maps.Keys(then), engine.ComparePaths), nil
}

// planPaths returns the paths a plan would touch.
func planPaths(p engine.Plan) map[string]bool {
	paths := map[string]bool{}
	for _, es := range [][]engine.Entry{p.Delete, p.Mkdir, p.Symlink, p.SetMeta} {
		for _, e := range es {
			paths[e.Path] = true
		}
	}
	for _, f := range p.Send {
		paths[f.Local.Path] = true
	}
	return paths
}

// followForWait signals wake whenever the server reports a change to its
// tree, until ctx ends or the stream fails; [Client.WaitForSync] then
// falls back to comparing every waitRecheck.
func (c *Client) followForWait(ctx context.Context, wake chan<- struct{}) {
	stream, err := c.rpc.WatchChanges(ctx, connect.NewRequest(&dirsyncv1.WatchChangesRequest{}))
	if err != nil {
		return
	}
	defer stream.Close()
	for stream.Receive() {
		if len(stream.Msg().GetEvents()) == 0 {
			continue
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}
