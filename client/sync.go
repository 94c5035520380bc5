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
	return c.syncOnce(ctx, passHooks{})
}

// syncOnce is SyncOnce, with hooks for each attempt's pass.
func (c *Client) syncOnce(ctx context.Context, hooks passHooks) (Summary, error) {
	bo := newBackoff(backoffMin, backoffMax)
	for attempt := 1; ; attempt++ {
		sum, err := c.runPassWith(ctx, nil, true, hooks)
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
	local, _, remote, err := c.scanAndFetch(ctx, nil, nil)
	if err != nil {
		return engine.Plan{}, c.classify(err)
	}
	return c.planAgainst(local, remote), nil
}

// planAgainst returns the plan that makes the server's manifest remote,
// less what the ignore rules leave out, equal to local, or to local
// without set-id bits when the server drops them.
func (c *Client) planAgainst(local, remote engine.Manifest) engine.Plan {
	if c.dropsSetid.Load() {
		local = withoutSetid(local)
	}
	return engine.Diff(local, c.rules.Load().filter(remote))
}

// A Check compares the local tree with the server's after a pass, as
// [Client.Verify] does, and returns the plan that would still be needed:
// empty when the server holds a mirror.
type Check func(ctx context.Context) (engine.Plan, error)

// SyncOnceWithCheck runs SyncOnce and returns, with its summary, the
// check of its result.
//
// When the pass changes something, the check compares the server's
// listing, fetched when it is called, with the local tree as it was once
// the pass had read the last of it. Where the system can (see
// [treeGuard]), the pass's scan has each directory watched before it
// lists it, and while nothing has changed since, that tree is the pass's
// own scan; otherwise a rescan starts as soon as the pass has sent its
// files, while the server gives the directories their metadata, or when a
// change shows up later. When the pass changes nothing, the check scans
// when it is called, as Verify does. A check holds its watches until it
// is called: call it once.
func (c *Client) SyncOnceWithCheck(ctx context.Context) (Summary, Check, error) {
	guard := newTreeGuard(c.opts.Dir)
	var (
		scanned engine.Manifest
		rescan  *localScan
	)
	sum, err := c.syncOnce(ctx, passHooks{
		beforeList: guard.watch,
		filesDone: func(m engine.Manifest) {
			rescan.wait() // one started by a failed attempt
			scanned, rescan = m, nil
			if !guard.quiet() {
				rescan = c.startScan()
			}
		},
	})
	if err != nil || scanned == nil || !sum.Changed() {
		// A pass that changed nothing handed over no scan; one from an
		// earlier, failed attempt would predate this pass.
		rescan.wait()
		guard.close()
		if err != nil {
			return sum, nil, err
		}
		return sum, c.Verify, nil
	}
	return sum, func(ctx context.Context) (engine.Plan, error) {
		defer guard.close()
		remote, err := c.fetchManifest(ctx, nil)
		if rescan == nil && !guard.quiet() {
			c.log.Debug("the local tree changed during the pass; rescanning it for the check")
			rescan = c.startScan()
		}
		local := scanned
		var scanErr error
		if rescan != nil {
			local, scanErr = rescan.wait()
		}
		if err != nil {
			return engine.Plan{}, c.classify(err)
		}
		if scanErr != nil {
			return engine.Plan{}, scanErr
		}
		return c.planAgainst(local, remote), nil
	}, nil
}

// localScan is a scan of the whole local tree running on its own
// goroutine.
type localScan struct {
	done  chan struct{}
	local engine.Manifest
	err   error
}

// startScan starts a scan of the whole local tree.
func (c *Client) startScan() *localScan {
	s := &localScan{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.local, _, s.err = c.scanLocal(nil, nil)
	}()
	return s
}

// wait waits for the scan to end and returns its manifest. A nil scan
// returns nothing.
func (s *localScan) wait() (engine.Manifest, error) {
	if s == nil {
		return nil, nil
	}
	<-s.done
	return s.local, s.err
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
	for _, e := range plan.Link {
		line("link    %s => %s", e.Path, e.HardlinkTarget)
	}
	for _, e := range plan.Special {
		line("special %s (%v, mode %#o)", e.Path, e.Type, e.Mode)
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
