package client

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// fullEvery turns every fullEvery-th retry of failed items into a full
// pass, in case what blocks them lies outside their scopes (a parent
// directory missing on the server, say).
const fullEvery = 4

// passFunc runs one pass over scopes (nil for the whole tree); progress
// asks for a progress bar.
type passFunc func(ctx context.Context, scopes []string, progress bool) (Summary, error)

// watchLoop runs passes as the coalescer asks for them, one at a time, and
// retries what fails.
type watchLoop struct {
	co   *coalescer
	pass passFunc
	log  *slog.Logger
	// poll is closed when part of the tree cannot be watched; the loop
	// then calls rescan every pollEvery and runs a pass over the paths it
	// returns, if any ("" stands for the whole tree).
	poll      <-chan struct{}
	pollEvery time.Duration
	rescan    func() []string
	// connBackoff paces retries after a pass that could not finish
	// (server unreachable); failBackoff paces retries of failed items.
	connBackoff, failBackoff *backoff
	// verifyEvery is the period of the full verification passes, the
	// backstop for changes that no event reported; 0 runs none.
	verifyEvery time.Duration
}

// run starts with a full pass and then runs passes until ctx ends. A pass
// that could not finish is retried, in full, with exponential backoff,
// except one the server refused (an error wrapping [ErrAuth]): run returns
// that error. It returns nil once ctx ends.
func (l *watchLoop) run(ctx context.Context) error {
	var (
		pollTick   <-chan time.Time
		retryTimer *time.Timer
		first      = true
		failing    int
		lastErr    string
	)
	defer func() {
		if retryTimer != nil {
			retryTimer.Stop()
		}
	}()
	poll := l.poll
	var verifyTick <-chan time.Time
	if l.verifyEvery > 0 {
		// One wakeup per period: idle costs nothing between them.
		t := time.NewTicker(l.verifyEvery)
		defer t.Stop()
		verifyTick = t.C
	}
	l.co.addFull()
	l.co.flush()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.co.ready:
		case <-poll:
			poll = nil
			t := time.NewTicker(l.pollEvery)
			defer t.Stop()
			pollTick = t.C
			continue
		case <-verifyTick:
			l.log.Debug("periodic verification: running a full pass")
			l.co.addFull()
			continue
		case <-pollTick:
			scopes := l.rescan()
			if len(scopes) == 0 {
				continue
			}
			l.co.requeue(scopes)
		}
		paths, full := l.co.take()
		if !full && len(paths) == 0 {
			continue
		}
		var scopes []string
		if !full {
			scopes = engine.ReduceScopes(paths)
			if slices.Contains(scopes, "") {
				scopes = nil
			}
		}
		sum, err := l.pass(ctx, scopes, first)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrOverlap) {
			// A refused token stays refused, and an overlap stays:
			// stop rather than retry forever.
			return err
		}
		if err != nil {
			d := l.connBackoff.next()
			if msg := err.Error(); msg != lastErr {
				// Once per distinct error: a server down or a
				// directory gone for an hour is one message.
				lastErr = msg
				l.log.Warn("pass did not finish; retrying with a full pass", "retry_in", d, "err", err)
			} else {
				l.log.Debug("pass did not finish; retrying with a full pass", "retry_in", d, "err", err)
			}
			if sleep(ctx, d) != nil {
				return nil
			}
			l.co.addFull()
			l.co.flush()
			continue
		}
		first = false
		lastErr = ""
		l.connBackoff.reset()
		retry := sum.FailedPaths
		if sum.Hold != nil {
			// Held deletions are retried like failures: they go
			// through once they fall within the limits, and the hold
			// ends when the local tree is back.
			retry = append(slices.Clip(retry), sum.Hold.Paths...)
		}
		if len(retry) == 0 {
			failing = 0
			l.failBackoff.reset()
			continue
		}
		failing++
		if failing%fullEvery == 0 {
			l.co.requeueFull()
		} else {
			l.co.requeue(retry)
		}
		d := l.failBackoff.next()
		if sum.Failed > 0 {
			l.log.Info("retrying failed items", "items", sum.Failed, "retry_in", d)
		}
		if retryTimer != nil {
			retryTimer.Stop()
		}
		retryTimer = time.AfterFunc(d, l.co.flush)
	}
}
