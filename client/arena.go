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
// round needed.
func (a *arena) reset() {
	if need := a.used + a.overflow; need > len(a.buf) {
		a.buf = make([]byte, need)
	}
	a.used, a.overflow = 0, 0
}
