package server

import (
	"context"
	"sync"
)

// pathLocks serialises the requests that change one path: a keyed mutex
// whose entries live only while someone holds or waits for them, so it
// does not grow with the number of paths ever written. It is safe for
// concurrent use; the zero value is not, use [newPathLocks].
type pathLocks struct {
	mu    sync.Mutex
	locks map[string]*pathLock
}

// pathLock is the mutex of one path: a one-slot semaphore, so waiting for
// it can be abandoned when a request is canceled.
type pathLock struct {
	sem  chan struct{}
	refs int // holders and waiters; the entry is dropped at 0
}

// newPathLocks returns an empty set of locks.
func newPathLocks() *pathLocks {
	return &pathLocks{locks: make(map[string]*pathLock)}
}

// lock waits until it holds the lock of rel, or ctx is done. On success it
// returns the function that releases the lock, which must be called
// exactly once.
func (l *pathLocks) lock(ctx context.Context, rel string) (unlock func(), err error) {
	l.mu.Lock()
	pl := l.locks[rel]
	if pl == nil {
		pl = &pathLock{sem: make(chan struct{}, 1)}
		l.locks[rel] = pl
	}
	pl.refs++
	l.mu.Unlock()

	select {
	case pl.sem <- struct{}{}:
		return func() {
			<-pl.sem
			l.release(rel, pl)
		}, nil
	case <-ctx.Done():
		l.release(rel, pl)
		return nil, ctx.Err()
	}
}

// release drops one reference to pl, the lock of rel.
func (l *pathLocks) release(rel string, pl *pathLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pl.refs--
	if pl.refs == 0 {
		delete(l.locks, rel)
	}
}

// size returns the number of paths with holders or waiters.
func (l *pathLocks) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.locks)
}
