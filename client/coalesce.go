package client

import (
	"sync"
	"time"
)

// Event coalescing: a pass starts once no event has arrived for
// coalesceWindow, and more than maxPendingPaths dirty paths turn into one
// full pass, which is cheaper than that many subtree scans.
const (
	coalesceWindow  = 20 * time.Millisecond
	maxPendingPaths = 10000
)

// coalescer gathers the paths that changed until the events pause, then
// signals on ready. Signals do not pile up: ready holds at most one, so
// however many flushes happen while a pass runs, exactly one follow-up pass
// takes everything they gathered. It is safe for concurrent use.
type coalescer struct {
	quiet time.Duration
	max   int
	// ready is signalled when the pending paths should be synced. The
	// consumer calls take after each signal.
	ready chan struct{}

	mu    sync.Mutex
	paths map[string]struct{}
	full  bool
	timer *time.Timer
	// since is when the oldest pending change arrived, zero when none is
	// pending; take moves it to taken (see [coalescer.takenSince]).
	since, taken time.Time
}

// newCoalescer returns a coalescer that signals after quiet without events
// and turns more than max pending paths into a full pass.
func newCoalescer(quiet time.Duration, max int) *coalescer {
	return &coalescer{
		quiet: quiet,
		max:   max,
		ready: make(chan struct{}, 1),
		paths: make(map[string]struct{}),
	}
}

// add marks path dirty and restarts the quiet window.
func (c *coalescer) add(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(path)
	c.armLocked()
}

// addFull asks for a full pass and restarts the quiet window.
func (c *coalescer) addFull() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.full = true
	clear(c.paths)
	c.noteLocked()
	c.armLocked()
}

// requeue marks paths dirty without restarting the quiet window: they go
// with the next pass, whatever triggers it.
func (c *coalescer) requeue(paths []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		c.addLocked(p)
	}
}

// requeueFull asks for a full pass without restarting the quiet window.
func (c *coalescer) requeueFull() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.full = true
	clear(c.paths)
}

// addLocked marks path dirty, with c.mu held.
func (c *coalescer) addLocked(path string) {
	c.noteLocked()
	if c.full {
		return
	}
	c.paths[path] = struct{}{}
	if len(c.paths) > c.max {
		c.full = true
		clear(c.paths)
	}
}

// armLocked (re)starts the quiet window, with c.mu held.
func (c *coalescer) armLocked() {
	if c.timer == nil {
		c.timer = time.AfterFunc(c.quiet, c.flush)
		return
	}
	c.timer.Reset(c.quiet)
}

// flush signals ready if anything is pending. The quiet window's timer
// calls it; so do retries.
func (c *coalescer) flush() {
	c.mu.Lock()
	pending := c.full || len(c.paths) > 0
	c.mu.Unlock()
	if !pending {
		return
	}
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// take returns and clears what is pending: the dirty paths, or full when a
// full pass is due (paths is then nil).
func (c *coalescer) take() (paths []string, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	full = c.full
	if !full {
		paths = make([]string, 0, len(c.paths))
		for p := range c.paths {
			paths = append(paths, p)
		}
	}
	c.full = false
	clear(c.paths)
	c.taken, c.since = c.since, time.Time{}
	return paths, full
}

// stop stops the quiet window's timer.
func (c *coalescer) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
}
