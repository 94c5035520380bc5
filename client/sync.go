package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// onceAttempts is how many times SyncOnce tries to reach the server before
// it gives up: with the backoff between attempts, about 10 to 20 seconds.
const onceAttempts = 8

// SyncOnce runs one full sync pass and returns its summary. With
// Options.DryRun it only plans: the summary's Plan says what a pass would
// do, and nothing changes. While the server cannot be reached it retries
// with backoff a few times, then returns an error wrapping
// [ErrUnavailable]. Failures of single items do not make an error: they
// are counted in the Summary.
func (c *Client) SyncOnce(ctx context.Context) (Summary, error) {
	sum, _, err := c.syncOnce(ctx)
	return sum, err
}

// syncOnce is SyncOnce that also returns what the last pass's scan found.
func (c *Client) syncOnce(ctx context.Context) (Summary, engine.Manifest, error) {
	bo := newBackoff(backoffMin, backoffMax)
	for attempt := 1; ; attempt++ {
		sum, local, err := c.runPassScanned(ctx, nil, true)
		if err == nil || !errors.Is(err, ErrUnavailable) || attempt == onceAttempts {
			return sum, local, err
		}
		d := bo.next()
		c.log.Warn("server unavailable; retrying", "attempt", attempt, "retry_in", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return sum, local, err
		}
	}
}

// SyncAndVerify runs [Client.SyncOnce], hands its summary to passDone,
// then checks as [Client.Verify] does that the server holds a mirror and
// returns the plan that would still be needed: empty when it does. A pass
// over a tree the server already mirrored needs no check: its own
// comparison was one. Otherwise, if nothing changed in the local tree
// while the pass ran (every directory is watched meanwhile; see
// [quietWatch]), the server's listing is compared with the pass's scan
// instead of a new one. The error, from the pass if passDone was not
// called and from the check if it was, wraps [ErrUnavailable] when the
// server cannot be reached.
func (c *Client) SyncAndVerify(ctx context.Context, passDone func(Summary)) (engine.Plan, error) {
	q := c.watchQuiet()
	if q != nil {
		defer q.close()
	}
	sum, local, err := c.syncOnce(ctx)
	if err != nil {
		return engine.Plan{}, err
	}
	passDone(sum)
	if sum.Full && !sum.Changed() && sum.Failed == 0 {
		return engine.Plan{}, nil
	}
	if q == nil || local == nil || !q.quiet() {
		return c.Verify(ctx)
	}
	c.log.Debug("nothing changed locally during the pass; checking the server's listing against its scan")
	remote, err := c.fetchManifest(ctx, nil)
	if err != nil {
		return engine.Plan{}, c.classify(err)
	}
	return engine.Diff(local, c.rules.Load().filter(remote)), nil
}

// Verify compares the local tree with the server's and returns the plan
// that would make them equal: an empty plan means the server holds a
// mirror. It changes nothing. The error wraps [ErrUnavailable] when the
// server cannot be reached.
func (c *Client) Verify(ctx context.Context) (engine.Plan, error) {
	local, _, remote, err := c.scanAndFetch(ctx, nil)
	if err != nil {
		return engine.Plan{}, c.classify(err)
	}
	return engine.Diff(local, c.rules.Load().filter(remote)), nil
}

// WritePlan writes plan to w, one entry per line with an action word:
// delete, mkdir, send (with "new" or "changed"), symlink (with its target)
// and meta, in the order a pass applies them.
func WritePlan(w io.Writer, plan engine.Plan) error {
	var err error
	line := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format+"\n", args...)
		}
	}
	for _, e := range plan.Delete {
		line("delete  %s", e.Path)
	}
	for _, e := range plan.Mkdir {
		line("mkdir   %s", e.Path)
	}
	for _, fc := range plan.Send {
		how := "new"
		if fc.Remote != nil {
			how = "changed"
		}
		line("send    %s (%s, %s)", fc.Local.Path, how, formatBytes(fc.Local.Size))
	}
	for _, e := range plan.Symlink {
		line("symlink %s -> %s", e.Path, e.LinkTarget)
	}
	for _, e := range plan.SetMeta {
		line("meta    %s (mode %#o)", e.Path, e.Mode)
	}
	return err
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
