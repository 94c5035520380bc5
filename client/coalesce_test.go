package client

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// signalled reports whether co's ready holds a signal, and consumes it.
func signalled(co *coalescer) bool {
	select {
	case <-co.ready:
		return true
	default:
		return false
	}
}

// The tests run in a synctest bubble: time stands still until every
// goroutine in it is blocked, so "at once" means at the same fake instant,
// and the timings asserted are exact.

func TestCoalescerLeadingEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 100)
		defer co.stop()
		co.add("a")
		if !signalled(co) {
			t.Fatal("first change after a calm spell: no signal at once")
		}
		if paths, full := co.take(); full || !slices.Equal(paths, []string{"a"}) {
			t.Errorf("take = %q, %v; want [a], false", paths, full)
		}
		// A calm spell longer than the gap: the next change goes at once
		// too.
		time.Sleep(time.Second)
		co.add("b")
		if !signalled(co) {
			t.Error("change after a calm spell of 1s: no signal at once")
		}
	})
}

func TestCoalescerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 100)
		defer co.stop()
		start := time.Now()
		co.add("first")
		if !signalled(co) {
			t.Fatal("first change: no signal at once")
		}
		co.take()
		// A burst within the gap: no signal until it ends, then one for
		// all of it.
		for i := range 5 {
			time.Sleep(time.Millisecond)
			co.add(fmt.Sprint(i))
			if signalled(co) {
				t.Fatalf("signal at %v, within the burst gap", time.Since(start))
			}
		}
		<-co.ready
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("burst signalled after %v, want 10ms (the gap)", d)
		}
		paths, full := co.take()
		slices.Sort(paths)
		if want := []string{"0", "1", "2", "3", "4"}; full || !slices.Equal(paths, want) {
			t.Errorf("take = %q, %v; want %q in one pass", paths, full, want)
		}
	})
}

func TestCoalescerCeilingUnderEndlessChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const gap = 10 * time.Millisecond
		co := newCoalescer(gap, 100)
		defer co.stop()
		// A file written every 3 ms for a second, and another file
		// changed once meanwhile: every change is signalled within the
		// gap of its arrival, whatever keeps changing.
		start := time.Now()
		var otherAt time.Time
		go func() {
			for i := 1; i <= 333; i++ {
				time.Sleep(3 * time.Millisecond)
				co.add("busy.log")
				if i == 150 {
					otherAt = time.Now()
					co.add("other.txt")
				}
			}
		}()
		last := start
		signals := 0
		var (
			otherDelay time.Duration
			otherSeen  bool
		)
		for {
			select {
			case <-co.ready:
			case <-time.After(time.Second):
				// A second without a signal: the writer is done.
				if signals < 50 {
					t.Errorf("%d signals in 1s of changes every 3ms, want about 100", signals)
				}
				if !otherSeen {
					t.Error("unrelated change never signalled")
				} else if otherDelay > gap {
					t.Errorf("unrelated change signalled %v after it, want within %v", otherDelay, gap)
				}
				return
			}
			signals++
			now := time.Now()
			if d := now.Sub(last); d > gap+3*time.Millisecond {
				t.Errorf("%v between signals at %v under endless changes, want at most the gap and one write interval", d, now.Sub(start))
			}
			last = now
			if paths, _ := co.take(); slices.Contains(paths, "other.txt") {
				otherDelay, otherSeen = now.Sub(otherAt), true
			}
		}
	})
}

func TestCoalescerIdleDoesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 100)
		defer co.stop()
		// Nothing pending: no signal, and no timer running in the
		// bubble (synctest.Wait would not return while one is due
		// before the sleep ends, and the sleep would see it fire).
		time.Sleep(time.Minute)
		if signalled(co) {
			t.Fatal("signal with nothing pending")
		}
		co.add("a")
		<-co.ready
		co.take()
		// The gap's timer is not armed by the change that was
		// signalled at once, and a retry signal with nothing pending is
		// not sent.
		time.Sleep(time.Minute)
		co.flush()
		if signalled(co) {
			t.Error("signal after a minute with nothing pending")
		}
	})
}

func TestCoalescerRequeueWaitsForTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 2)
		defer co.stop()
		co.requeue([]string{"failed"})
		time.Sleep(time.Second)
		if signalled(co) {
			t.Fatal("requeue signalled by itself")
		}
		co.add("x")
		co.add("y")
		if !signalled(co) {
			t.Fatal("no signal for a change after a calm spell")
		}
		// Three paths, over the cap of 2: a full pass.
		if paths, full := co.take(); !full || paths != nil {
			t.Errorf("take = %q, %v; want a full pass", paths, full)
		}
	})
}

func TestCoalescerRemovalsWaitForPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 100)
		defer co.stop()
		start := time.Now()
		// An rm -rf: removals 5 ms apart go together once they pause
		// for removeQuiet, not one by one.
		for i := range 10 {
			co.addRemoved(fmt.Sprint(i))
			if signalled(co) {
				t.Fatalf("removal signalled at %v, while removals go on", time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
		<-co.ready
		if d, want := time.Since(start), 45*time.Millisecond+removeQuiet; d != want {
			t.Errorf("removals signalled after %v, want %v (the last one plus the quiet window)", d, want)
		}
		paths, full := co.take()
		if full || len(paths) != 10 {
			t.Errorf("take = %q, %v; want the 10 removals in one pass", paths, full)
		}
		// Nothing is left armed.
		time.Sleep(time.Minute)
		if signalled(co) {
			t.Error("signal with nothing pending")
		}
	})
}

func TestCoalescerRemovalCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 1000)
		defer co.stop()
		// Endless removals, 5 ms apart, and a write meanwhile: the write
		// goes at once, alone, and the removals within the ceiling.
		stop := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				co.addRemoved(fmt.Sprint("tmp", i))
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		time.Sleep(100 * time.Millisecond)
		co.add("written")
		if !signalled(co) {
			t.Fatal("write during removals: no signal at once")
		}
		if paths, full := co.take(); full || !slices.Equal(paths, []string{"written"}) {
			t.Errorf("take = %q, %v; want only the write", paths, full)
		}
		last := start
		for round := range 3 {
			<-co.ready
			// The first removal of a round comes at most one interval
			// after the previous round went.
			if d, want := time.Since(last), removeCeiling+5*time.Millisecond; d > want {
				t.Errorf("round %d of removals signalled %v after the previous, want within %v", round, d, want)
			}
			last = time.Now()
			if paths, _ := co.take(); len(paths) < 150 {
				t.Errorf("round %d took %d removals, want about 200", round, len(paths))
			}
		}
		close(stop)
	})
}

func TestCoalescerRulesChangeHoldsPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		co := newCoalescer(10*time.Millisecond, 100)
		defer co.stop()
		start := time.Now()
		// The ignore file is written in two steps, and a file changes
		// meanwhile: no pass may start before the rules are whole, and
		// then one full pass takes everything.
		co.addRulesChanged()
		time.Sleep(2 * time.Millisecond)
		co.add("late.txt")
		co.flush()
		time.Sleep(2 * time.Millisecond)
		co.addRulesChanged()
		if signalled(co) {
			t.Fatal("signal while the ignore file is being written")
		}
		<-co.ready
		if d, want := time.Since(start), 4*time.Millisecond+removeQuiet; d != want {
			t.Errorf("signalled after %v, want %v (the last rules event plus the quiet window)", d, want)
		}
		if paths, full := co.take(); !full || paths != nil {
			t.Errorf("take = %q, %v; want a full pass", paths, full)
		}
		// Back to the leading edge.
		time.Sleep(time.Second)
		co.add("next.txt")
		if !signalled(co) {
			t.Error("change after the rules settled: no signal at once")
		}
	})
}
