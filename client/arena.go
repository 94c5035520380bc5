package client

// arena hands out byte slices from one reused buffer, for the contents of
// the whole small files that wait in a stream's packed message. Its
// buffer grows to the largest packed message and is never returned: a
// stream takes what it had the message before. reset makes every slice
// taken so far reusable; the caller must no longer use them. The zero
// value is ready to use; it is not safe for concurrent use.
type arena struct {
	buf  []byte
	used int
	// overflow counts the bytes of the slices that did not fit since the
	// last reset, which were allocated on their own; the next reset grows
	// buf to hold them too.
	overflow int
	// most, if set, is the most one round can take. A buffer that must
	// grow a second time, or to more than half of it, grows to it at once:
	// rounds of nearly the same size otherwise grew the buffer by a
	// little, again and again, and an initial sync of 20,000 small files
	// allocated 19-22 MB of arenas for four streams (pprof) instead of 4.
	most int
}

// take returns a slice of n bytes, whose contents are undefined.
func (a *arena) take(n int) []byte {
	if a.used+n > len(a.buf) {
		a.overflow += n
		return make([]byte, n)
	}
	b := a.buf[a.used : a.used+n : a.used+n]
	a.used += n
	return b
}

// reset makes the whole buffer available again, grown to what the last
// round needed (see most).
func (a *arena) reset() {
	if need := a.used + a.overflow; need > len(a.buf) {
		size := need
		if len(a.buf) > 0 || need > a.most/2 {
			size = max(need, a.most)
		}
		a.buf = make([]byte, size)
	}
	a.used, a.overflow = 0, 0
}
