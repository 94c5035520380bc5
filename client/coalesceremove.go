package client

import "time"

// addRemoved marks path dirty because it was removed: it waits for
// removals to pause (see [removeQuiet]).
func (c *coalescer) addRemoved(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.removedFull {
		c.removed[path] = struct{}{}
		if len(c.removed) > c.max {
			c.removedFull = true
			clear(c.removed)
		}
	}
	c.settleLocked()
}

// addRulesChanged asks for a full pass because the ignore file changed.
// Until its events pause, as removals do, no pass starts for changes:
// one would read the file half-written, with rules that may leave out
// none of what it names, and send what it ignores. The full pass then
// takes what changed meanwhile, under the new rules.
func (c *coalescer) addRulesChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removedFull = true
	clear(c.removed)
	c.rulesSettling = true
	c.settleLocked()
}

// settleLocked records a removal or rules event and arms the timer that
// lets them go once such events pause; with c.mu held.
func (c *coalescer) settleLocked() {
	now := time.Now()
	if !c.removeArmed {
		c.firstRemoved = now
	}
	c.lastRemoved = now
	if c.removeArmed {
		// The timer checks lastRemoved when it fires: no reset per
		// event.
		return
	}
	c.removeArmed = true
	if c.removeTimer == nil {
		c.removeTimer = time.AfterFunc(c.removeQuiet, c.fireRemoved)
		return
	}
	c.removeTimer.Reset(c.removeQuiet)
}

// fireRemoved lets the waiting removals (or rules change) go if their
// events have paused, or have gone on for the ceiling, and otherwise
// checks again when that may be the case.
func (c *coalescer) fireRemoved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.removeArmed {
		return // stopped
	}
	due := c.lastRemoved.Add(c.removeQuiet)
	if ceiling := c.firstRemoved.Add(c.removeMax); ceiling.Before(due) {
		due = ceiling
	}
	if wait := time.Until(due); wait > 0 {
		c.removeTimer.Reset(wait)
		return
	}
	c.removeArmed, c.rulesSettling = false, false
	if c.removedFull {
		c.full = true
		clear(c.paths)
	} else {
		for p := range c.removed {
			c.addLocked(p)
		}
	}
	c.removedFull = false
	clear(c.removed)
	c.signalLocked()
}
