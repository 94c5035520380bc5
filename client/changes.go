package client

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// maxChangesPerRequest bounds the changes of one ApplyChanges request, so
// that requests and their answers stay small however large a plan is.
const maxChangesPerRequest = 1000

// applyChanges sends changes in order, in batches of at most
// maxChangesPerRequest, and calls result with the index and outcome of each
// change as its batch is answered. It returns an error only when a batch
// fails as a whole; per-change failures are results.
func (c *Client) applyChanges(ctx context.Context, changes []*dirsyncv1.Change, result func(i int, r *dirsyncv1.ChangeResult)) error {
	for start := 0; start < len(changes); start += maxChangesPerRequest {
		end := min(start+maxChangesPerRequest, len(changes))
		resp, err := c.rpc.ApplyChanges(ctx, connect.NewRequest(&dirsyncv1.ApplyChangesRequest{Changes: changes[start:end], ObservedAtNs: c.observedAt.Load()}))
		if err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
		results := resp.Msg.GetResults()
		if len(results) != end-start {
			return fmt.Errorf("apply changes: %d results for %d changes", len(results), end-start)
		}
		for k, r := range results {
			result(start+k, r)
		}
	}
	return nil
}

// minParallelChanges is the fewest changes worth a request of their own
// in applyChangesParallel.
const minParallelChanges = 16

// applyChangesParallel applies independent changes, whose order does not
// matter, in up to parts concurrent requests of contiguous slices, so that
// the server's per-change fsyncs overlap instead of queuing up. result is
// called concurrently and must be safe for that. It returns the first
// error.
func (c *Client) applyChangesParallel(ctx context.Context, changes []*dirsyncv1.Change, parts int,
	result func(i int, r *dirsyncv1.ChangeResult)) error {
	parts = min(parts, (len(changes)+minParallelChanges-1)/minParallelChanges)
	if parts <= 1 {
		return c.applyChanges(ctx, changes, result)
	}
	size := (len(changes) + parts - 1) / parts
	var bounds []int
	for start := 0; start < len(changes); start += size {
		bounds = append(bounds, start)
	}
	return c.applyChangesSplit(ctx, changes, append(bounds, len(changes)), result)
}

// applyChangesSplit applies changes in concurrent requests, one for each
// slice changes[bounds[k]:bounds[k+1]], whose changes are applied in
// order. result, called concurrently, gets each change's index in
// changes. It returns the first error.
func (c *Client) applyChangesSplit(ctx context.Context, changes []*dirsyncv1.Change, bounds []int,
	result func(i int, r *dirsyncv1.ChangeResult)) error {
	errs := make([]error, len(bounds)-1)
	var wg sync.WaitGroup
	for k := range errs {
		start, end := bounds[k], bounds[k+1]
		wg.Go(func() {
			errs[k] = c.applyChanges(ctx, changes[start:end], func(i int, r *dirsyncv1.ChangeResult) {
				result(start+i, r)
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// changePath returns the path a change names.
func changePath(ch *dirsyncv1.Change) string {
	switch a := ch.GetAction().(type) {
	case *dirsyncv1.Change_Delete:
		return a.Delete
	case *dirsyncv1.Change_RawDelete:
		return string(a.RawDelete)
	case *dirsyncv1.Change_MakeDirectory:
		return entryPath(a.MakeDirectory)
	case *dirsyncv1.Change_Symlink:
		return entryPath(a.Symlink)
	case *dirsyncv1.Change_SetMetadata:
		return entryPath(a.SetMetadata)
	case *dirsyncv1.Change_CopyContent:
		return entryPath(a.CopyContent)
	case *dirsyncv1.Change_MakeHardlink:
		return entryPath(a.MakeHardlink)
	case *dirsyncv1.Change_MakeSpecial:
		return entryPath(a.MakeSpecial)
	}
	return ""
}
