package client

import "testing"

func TestArena(t *testing.T) {
	var a arena
	// An empty arena allocates, then grows to the round's needs.
	first := a.take(10)
	if len(first) != 10 || cap(first) != 10 {
		t.Fatalf("take(10) = len %d cap %d", len(first), cap(first))
	}
	a.take(20)
	a.reset()
	if len(a.buf) != 30 {
		t.Fatalf("after a round of 30 bytes the buffer holds %d", len(a.buf))
	}
	x, y := a.take(10), a.take(20)
	if &x[0] != &a.buf[0] || &y[0] != &a.buf[10] {
		t.Error("slices do not come from the buffer in order")
	}
	// Appending to a slice must never run into the next one.
	x = append(x, 1)
	if &x[0] == &a.buf[0] {
		t.Error("append to a full slice wrote into the buffer")
	}
	if z := a.take(1); &z[0] == &a.buf[0] {
		t.Error("a slice beyond the buffer aliases it")
	}
	a.reset()
	if len(a.buf) != 31 {
		t.Errorf("buffer %d bytes, want 31 after a round that overflowed by 1", len(a.buf))
	}
	if z := a.take(31); &z[0] != &a.buf[0] {
		t.Error("after reset the buffer is not reused from its start")
	}
}
