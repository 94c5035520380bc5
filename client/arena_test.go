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

func TestArenaGrowsToMostOnSecondGrowth(t *testing.T) {
	tests := []struct {
		name   string
		most   int
		rounds []int // bytes taken in each round
		want   []int // len(buf) after each round's reset
	}{
		{name: "no bound", rounds: []int{100, 110, 120}, want: []int{100, 110, 120}},
		{name: "small first round stays small", most: 1000, rounds: []int{10, 5}, want: []int{10, 10}},
		{name: "second growth jumps to most", most: 1000, rounds: []int{100, 110, 120}, want: []int{100, 1000, 1000}},
		{name: "a first round over half of most jumps to most", most: 1000, rounds: []int{600, 900}, want: []int{1000, 1000}},
		{name: "a round above most still fits", most: 1000, rounds: []int{100, 1500}, want: []int{100, 1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := arena{most: tt.most}
			for i, n := range tt.rounds {
				a.take(n)
				a.reset()
				if len(a.buf) != tt.want[i] {
					t.Fatalf("after round %d of %d bytes: buffer %d, want %d", i, n, len(a.buf), tt.want[i])
				}
			}
		})
	}
}
