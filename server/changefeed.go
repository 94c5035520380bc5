package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// Change feed bounds. Every one of them caps memory a peer can make the
// server hold: subscribers are remote callers.
const (
	// feedRingSize is how many recent events the feed keeps for callers
	// that resume from a generation (about 1 MiB of paths at 256 bytes).
	feedRingSize = 4096
	// feedSubBuffer is how many events may wait for one subscriber; past
	// it the subscriber gets a RESYNC event instead of the backlog.
	feedSubBuffer = 1024
	// DefaultMaxWatchers is how many WatchChanges streams a Server serves
	// at once when [Options.MaxWatchers] is 0.
	DefaultMaxWatchers = 64
)

// errTooManyWatchers is returned when a Server already serves its
// maximum of WatchChanges streams.
var errTooManyWatchers = errors.New("too many WatchChanges streams")

// changeKind mirrors the wire's ChangeKind.
type changeKind int

const (
	kindCreated changeKind = iota + 1
	kindModified
	kindRemoved
	kindMetadata
	kindRescan
	kindResync
)

// changeEvent is one change the feed publishes.
type changeEvent struct {
	gen  uint64
	path string // slash-separated, "" for the root
	kind changeKind
	own  bool // made by the server on a client's behalf
	at   time.Time
}

// changeFeed numbers the changes to one Server's tree and hands them to
// its subscribers, each through a bounded queue. It keeps the newest
// feedRingSize events so that a subscriber can resume from a generation.
// It is safe for concurrent use.
type changeFeed struct {
	// instance identifies this feed, new for every Server: generations of
	// two instances are unrelated.
	instance string
	maxSubs  int

	mu  sync.Mutex
	gen uint64 // generation of the newest event
	// ring holds the newest events: the one of generation g at
	// g % feedRingSize, for g from max(1, gen-feedRingSize+1) to gen.
	ring []changeEvent
	subs map[*feedSub]struct{}
}

// feedSub is one subscriber's queue. The feed appends under its own lock;
// the subscriber takes what is queued after each signal on wake.
type feedSub struct {
	scope string
	// noOwn leaves out the server's own changes.
	noOwn bool
	// wake holds a signal when events (or a lag) are queued.
	wake chan struct{}

	mu     sync.Mutex
	queue  []changeEvent
	lagged bool // the queue overflowed: a RESYNC replaces what was lost
}

// newChangeFeed returns a feed with a fresh instance id that serves at
// most maxSubs subscribers.
func newChangeFeed(maxSubs int) *changeFeed {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return &changeFeed{
		instance: hex.EncodeToString(b[:]),
		maxSubs:  maxSubs,
		ring:     make([]changeEvent, feedRingSize),
		subs:     make(map[*feedSub]struct{}),
	}
}

// publish numbers evs in order, keeps them in the ring and queues each to
// the subscribers whose scope it concerns.
func (f *changeFeed) publish(evs ...changeEvent) {
	if len(evs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range evs {
		f.gen++
		ev.gen = f.gen
		f.ring[f.gen%feedRingSize] = ev
		for sub := range f.subs {
			if sub.wants(ev) {
				sub.push(ev, f.gen)
			}
		}
	}
}

// head returns the generation of the newest event.
func (f *changeFeed) head() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// subscribe adds a subscriber for the changes at or under scope, or above
// it, less the server's own with noOwn, and returns it with the
// generation it starts after. With since > 0 and the feed's own instance,
// the events after since that the ring still holds are queued first; if
// the ring no longer reaches back to since, or instance is another one's,
// a RESYNC is queued instead. It fails with errTooManyWatchers at the cap.
func (f *changeFeed) subscribe(scope string, noOwn bool, since uint64, instance string) (*feedSub, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) >= f.maxSubs {
		return nil, 0, errTooManyWatchers
	}
	sub := &feedSub{scope: scope, noOwn: noOwn, wake: make(chan struct{}, 1)}
	f.subs[sub] = struct{}{}
	if since == 0 {
		return sub, f.gen, nil
	}
	// The oldest generation held; the ring holds all from 1 until it wraps.
	oldest := uint64(1)
	if f.gen > feedRingSize {
		oldest = f.gen - feedRingSize + 1
	}
	if instance != f.instance || since > f.gen || since+1 < oldest {
		sub.markLagged(f.gen)
		return sub, f.gen, nil
	}
	for g := since + 1; g <= f.gen; g++ {
		if ev := f.ring[g%feedRingSize]; sub.wants(ev) {
			sub.push(ev, f.gen)
		}
	}
	return sub, since, nil
}

// unsubscribe removes sub; it gets no more events.
func (f *changeFeed) unsubscribe(sub *feedSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, sub)
}

// concerns reports whether an event on path matters to a subscriber of
// scope: path lies at or under scope, or is an ancestor of it.
func concerns(scope, path string) bool {
	return engine.IsWithin(path, scope) || engine.IsWithin(scope, path)
}

// wants reports whether the subscriber is to get ev.
func (s *feedSub) wants(ev changeEvent) bool {
	return concerns(s.scope, ev.path) && !(s.noOwn && ev.own)
}

// push queues ev, or, when the queue is full, drops the queue and marks
// the subscriber lagged at generation gen. It never blocks.
func (s *feedSub) push(ev changeEvent, gen uint64) {
	s.mu.Lock()
	if s.lagged {
		// A RESYNC is due anyway: it covers ev.
		s.queue[0].gen = gen
	} else if len(s.queue) >= feedSubBuffer {
		s.queue = s.queue[:0]
		s.markLaggedLocked(gen)
	} else {
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// markLagged replaces the queue with one RESYNC event at generation gen.
func (s *feedSub) markLagged(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = s.queue[:0]
	s.markLaggedLocked(gen)
}

// markLaggedLocked is markLagged with s.mu held.
func (s *feedSub) markLaggedLocked(gen uint64) {
	s.lagged = true
	s.queue = append(s.queue, changeEvent{gen: gen, path: s.scope, kind: kindResync, at: time.Now()})
}

// take returns and clears the queued events.
func (s *feedSub) take() []changeEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	s.lagged = false
	return q
}
