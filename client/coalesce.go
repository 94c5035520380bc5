package client

import (
	"sync"
	"time"
)

// Event coalescing. The first change after a calm spell starts a pass at
// once, over the open stream: a lone edit does not wait for a quiet window
// that a busy file (a log appended every few milliseconds) would keep
// from ever coming. Changes that follow within burstGap of the last
// signal wait for the rest of that gap and go together in the next pass,
// so a burst costs at most one pass per burstGap, and no change waits in
// the coalescer longer than burstGap, whatever else keeps changing (it may
// still wait for the pass in flight: passes run one at a time). 10 ms:
// well under the 100 ms an unrelated change may take to arrive, and at
// most 100 passes a second for a file written without pause. More than
// maxPendingPaths dirty paths turn into one full pass, which is cheaper
// than that many subtree scans.
//
// Removals are the exception: they wait until removal events pause for
// removeQuiet, at most removeCeiling after the first, and then go in one
// pass. Sent at once, an rm -rf that empties the tree by mistake would
// reach the server a slice per pass, each too small for the mass-deletion
// guard (deleteguard.go), which judges one pass at a time; gathered, the
// guard sees it whole and holds it. 20 ms: longer than the gap between
// an rm's unlinks; 1 s bounds the wait under endless removals and
// covers an rm -rf of tens of thousands of files. Writes and creations do
// not wait for removals, and moves do not count as removals: a move's two
// halves must meet in one pass, or the guard would count the moved
// entries as lost.
const (
	burstGap        = 10 * time.Millisecond
	removeQuiet     = 20 * time.Millisecond
	removeCeiling   = time.Second
	maxPendingPaths = 10000
)

// coalescer gathers the paths that changed and signals on ready when a
// pass should take them: at once for the first change after a calm spell,
// at the end of the burst gap for later ones (see [burstGap]). Signals do
// not pile up: ready holds at most one, so however many signals happen
// while a pass runs, exactly one follow-up pass takes everything they
// gathered, right after it. Nothing runs while nothing is pending: the
// timers are armed by changes, and stay idle once those have gone. It is
// safe for concurrent use.
type coalescer struct {
	gap time.Duration
	max int
	// ready is signalled when the pending paths should be synced. The
	// consumer calls take after each signal.
	ready chan struct{}

	mu    sync.Mutex
	paths map[string]struct{}
	full  bool
	// last is when ready was last signalled (zero before the first).
	last time.Time
	// armed is set while timer is due to signal for pending changes.
	armed bool
	timer *time.Timer

	// removed holds the removed paths waiting for removals to pause;
	// removedFull replaces them when there are more than max.
	removed     map[string]struct{}
	removedFull bool
	// firstRemoved and lastRemoved are the times of the first and the
	// latest removal waiting; removeArmed is set while removeTimer is
	// due to check whether they may go.
	firstRemoved, lastRemoved time.Time
	removeArmed               bool
	removeTimer               *time.Timer
	removeQuiet, removeMax    time.Duration
	// rulesSettling is set while the ignore file's events have not
	// paused: no pass starts for changes meanwhile (see
	// [coalescer.addRulesChanged]).
	rulesSettling bool
	// since is when the oldest pending change arrived, zero when none is
	// pending; take moves it to taken (see [coalescer.takenSince]).
	since, taken time.Time
}

// newCoalescer returns a coalescer whose signals for changes are at least
// gap apart, and which turns more than max pending paths into a full pass.
func newCoalescer(gap time.Duration, max int) *coalescer {
	return &coalescer{
		gap:         gap,
		max:         max,
		ready:       make(chan struct{}, 1),
		paths:       make(map[string]struct{}),
		removed:     make(map[string]struct{}),
		removeQuiet: removeQuiet,
		removeMax:   removeCeiling,
	}
}

// add marks path dirty, and signals at once unless the burst gap is
// running.
func (c *coalescer) add(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(path)
	c.triggerLocked()
}

// addFull asks for a full pass, at once unless the burst gap is running.
func (c *coalescer) addFull() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.full = true
	clear(c.paths)
	c.noteLocked()
	c.triggerLocked()
}

// requeue marks paths dirty without signalling: they go with the next
// pass, whatever triggers it.
func (c *coalescer) requeue(paths []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		c.addLocked(p)
	}
}

// requeueFull asks for a full pass without signalling.
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

// triggerLocked signals now if the last signal is at least the burst gap
// old, and otherwise arms the timer for the end of the gap, unless it is
// armed already; with c.mu held.
func (c *coalescer) triggerLocked() {
	if c.armed || c.rulesSettling {
		return
	}
	wait := c.gap - time.Since(c.last)
	if c.last.IsZero() || wait <= 0 {
		c.signalLocked()
		return
	}
	c.armed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(wait, c.fire)
		return
	}
	c.timer.Reset(wait)
}

// fire ends the burst gap: it signals what changed during it.
func (c *coalescer) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return // stopped
	}
	c.armed = false
	if c.full || len(c.paths) > 0 {
		c.signalLocked()
	}
}

// signalLocked signals ready and starts a burst gap, with c.mu held.
func (c *coalescer) signalLocked() {
	c.last = time.Now()
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// flush signals ready at once if anything is pending, burst gap or not,
// unless the ignore file is being written: the watch loop calls it for
// its first pass and for retries.
func (c *coalescer) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rulesSettling {
		return // the rules' full pass comes once they are written
	}
	if c.full || len(c.paths) > 0 {
		c.signalLocked()
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

// stop stops the timers.
func (c *coalescer) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.removeArmed, c.rulesSettling = false, false, false
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.removeTimer != nil {
		c.removeTimer.Stop()
	}
}
