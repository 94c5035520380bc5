package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// passCall is one pass the fake pass function saw.
type passCall struct {
	scopes []string
	full   bool
}

// fakePasses is a passFunc that reports each call on calls and, for the
// call numbers in block, waits for a value on release before returning.
type fakePasses struct {
	calls   chan passCall
	release chan struct{}
	block   map[int]bool
	// result, if set, gives the outcome of call n (from 1).
	result func(n int) (Summary, error)

	mu sync.Mutex
	n  int
}

func newFakePasses() *fakePasses {
	return &fakePasses{calls: make(chan passCall, 100), release: make(chan struct{}), block: make(map[int]bool)}
}

func (f *fakePasses) pass(ctx context.Context, scopes []string, _ bool) (Summary, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	f.calls <- passCall{scopes: slices.Clone(scopes), full: scopes == nil}
	if f.block[n] {
		select {
		case <-f.release:
		case <-ctx.Done():
		}
	}
	if f.result != nil {
		return f.result(n)
	}
	return Summary{}, nil
}

// next waits for the next pass, failing the test after a generous
// deadline.
func (f *fakePasses) next(t *testing.T) passCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no pass within 30s")
		return passCall{}
	}
}

// startLoop runs a watchLoop with a coalescer whose burst gap, started by
// the first pass, never ends by itself: the test flushes it by hand.
func startLoop(t *testing.T, f *fakePasses) (*coalescer, func()) {
	t.Helper()
	co := newCoalescer(time.Hour, 50)
	l := &watchLoop{
		co:          co,
		pass:        f.pass,
		log:         slog.New(slog.DiscardHandler),
		connBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
		failBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	return co, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		co.stop()
	}
}

// sentinel checks that no pass is pending: a fresh path must come back
// alone in the very next pass.
func sentinel(t *testing.T, co *coalescer, f *fakePasses) {
	t.Helper()
	co.add("sentinel")
	co.flush()
	if c := f.next(t); c.full || !slices.Equal(c.scopes, []string{"sentinel"}) {
		t.Errorf("pass after the burst = %+v, want only the sentinel", c)
	}
}

func TestWatchLoopCoalescesBurst(t *testing.T) {
	f := newFakePasses()
	co, stop := startLoop(t, f)
	defer stop()
	if c := f.next(t); !c.full {
		t.Fatalf("first pass %+v, want full", c)
	}
	var want []string
	// 40 paths, below the cap of 50, reduced to 20 scopes.
	for i := range 20 {
		p := fmt.Sprintf("d%02d", i)
		want = append(want, p)
		co.add(p)
		co.add(p + "/child")
	}
	co.flush()
	if c := f.next(t); c.full || !slices.Equal(c.scopes, want) {
		t.Errorf("burst pass = %+v, want one pass with scopes %q", c, want)
	}
	sentinel(t, co, f)
}

func TestWatchLoopOneFollowUp(t *testing.T) {
	f := newFakePasses()
	f.block[2] = true
	co, stop := startLoop(t, f)
	defer stop()
	f.next(t) // the initial full pass
	co.add("first")
	co.flush()
	if c := f.next(t); !slices.Equal(c.scopes, []string{"first"}) {
		t.Fatalf("second pass = %+v", c)
	}
	// Pass 2 is running: events and flushes pile up meanwhile.
	for _, p := range []string{"x", "y", "z"} {
		co.add(p)
		co.flush()
	}
	f.release <- struct{}{}
	if c := f.next(t); !slices.Equal(c.scopes, []string{"x", "y", "z"}) {
		t.Errorf("follow-up pass = %+v, want one pass for x, y, z", c)
	}
	sentinel(t, co, f)
}

func TestWatchLoopOverflowIsFull(t *testing.T) {
	f := newFakePasses()
	co, stop := startLoop(t, f)
	defer stop()
	f.next(t)
	for i := range 51 {
		co.add(fmt.Sprint(i))
	}
	co.flush()
	if c := f.next(t); !c.full {
		t.Errorf("pass after 51 paths (cap 50) = %+v, want full", c)
	}
	sentinel(t, co, f)
}

func TestWatchLoopRetries(t *testing.T) {
	f := newFakePasses()
	f.result = func(n int) (Summary, error) {
		switch n {
		case 2:
			return Summary{}, fmt.Errorf("get manifest: %w", ErrUnavailable)
		case 4:
			return Summary{Failed: 1, FailedPaths: []string{"bad"}}, nil
		}
		return Summary{}, nil
	}
	co, stop := startLoop(t, f)
	defer stop()
	f.next(t)
	co.add("a")
	co.flush()
	if c := f.next(t); !slices.Equal(c.scopes, []string{"a"}) {
		t.Fatalf("pass 2 = %+v", c)
	}
	// Pass 2 could not reach the server: pass 3 is a full one, after
	// backoff, with no event needed.
	if c := f.next(t); !c.full {
		t.Errorf("pass after a lost connection = %+v, want full", c)
	}
	co.add("b")
	co.flush()
	f.next(t) // pass 4 fails on "bad"
	if c := f.next(t); !slices.Equal(c.scopes, []string{"bad"}) {
		t.Errorf("retry pass = %+v, want the failed path", c)
	}
}

// TestWatchLoopRetriesHeldDeletions checks that held deletions are retried
// like failed items, and that an overlap with the server's root stops the
// loop.
func TestWatchLoopRetriesHeldDeletions(t *testing.T) {
	f := newFakePasses()
	f.result = func(n int) (Summary, error) {
		if n == 2 {
			return Summary{Hold: &DeleteHold{Entries: 30, Paths: []string{"gone"}}}, nil
		}
		return Summary{}, nil
	}
	co, stop := startLoop(t, f)
	defer stop()
	f.next(t)
	co.add("gone")
	co.flush()
	f.next(t) // pass 2 holds the deletion of "gone"
	if c := f.next(t); !slices.Equal(c.scopes, []string{"gone"}) {
		t.Errorf("retry pass = %+v, want the held path", c)
	}
}

func TestWatchLoopStopsOnOverlap(t *testing.T) {
	f := newFakePasses()
	f.result = func(int) (Summary, error) { return Summary{}, fmt.Errorf("status: %w", ErrOverlap) }
	l := &watchLoop{
		co:          newCoalescer(time.Hour, 50),
		pass:        f.pass,
		log:         slog.New(slog.DiscardHandler),
		connBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
		failBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
	}
	defer l.co.stop()
	if err := l.run(context.Background()); !errors.Is(err, ErrOverlap) {
		t.Errorf("run = %v, want ErrOverlap", err)
	}
}
