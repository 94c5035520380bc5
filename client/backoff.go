package client

import (
	"math/rand/v2"
	"time"
)

// Backoff between attempts to reach the server: 200 ms doubling to 10 s.
const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 10 * time.Second
)

// backoff computes exponentially growing delays with jitter. Its zero value
// is not usable; build one with newBackoff. It is not safe for concurrent
// use.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
	// rand returns a number in [0, 1); tests replace it.
	rand func() float64
}

// newBackoff returns a backoff from min doubling to max.
func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rand: rand.Float64}
}

// next returns the delay before the next attempt: the current step, which
// doubles on every call from min up to max, scaled by a random factor in
// [0.5, 1) so that clients restarted together do not retry in lockstep.
func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + time.Duration(b.rand()*float64(b.cur/2))
}

// reset starts over from min after a success.
func (b *backoff) reset() { b.cur = 0 }
