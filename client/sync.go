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
	bo := newBackoff(backoffMin, backoffMax)
	for attempt := 1; ; attempt++ {
		sum, err := c.runPass(ctx, nil, true)
		if err == nil || !errors.Is(err, ErrUnavailable) || attempt == onceAttempts {
			return sum, err
		}
		d := bo.next()
		c.log.Warn("server unavailable; retrying", "attempt", attempt, "retry_in", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return sum, err
		}
	}
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
