package client

import (
	"testing"
	"time"
)

func TestCoalescerTakenSince(t *testing.T) {
	cases := []struct {
		name string
		add  func(c *coalescer)
		want bool // a time is reported
	}{
		{"nothing pending", func(*coalescer) {}, false},
		{"a path", func(c *coalescer) { c.add("a") }, true},
		{"a full pass", func(c *coalescer) { c.addFull() }, true},
		{"requeued paths", func(c *coalescer) { c.requeue([]string{"a", "b"}) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCoalescer(time.Hour, 10)
			defer c.stop()
			before := time.Now()
			tc.add(c)
			time.Sleep(time.Millisecond)
			c.add("later") // the oldest change counts
			c.take()
			got := c.takenSince()
			switch {
			case tc.want && (got.Before(before) || !got.Before(time.Now().Add(-time.Millisecond/2))):
				t.Errorf("takenSince() = %v, want the time of the first change, %v or just after", got, before)
			case !tc.want && !got.After(before):
				t.Errorf("takenSince() = %v, want the time of the later change", got)
			}
			if again := c.takenSince(); !again.IsZero() {
				t.Errorf("takenSince() again = %v, want zero", again)
			}
			c.take()
			if got := c.takenSince(); !got.IsZero() {
				t.Errorf("takenSince() after an empty take = %v, want zero", got)
			}
		})
	}
}
