package client

import (
	"sync"
	"time"
)

// deleteWindow is how long the deletions of a pass count against the
// default rule of later passes: a minute covers an rm -rf of a large tree,
// or a script removing one directory after another, which arrive as many
// small passes that would each pass the rule alone.
const deleteWindow = time.Minute

// deleteTally remembers how many entries recent passes deleted without
// making them again elsewhere, so that the default rule of [checkDeletes]
// judges a tree emptied a little at a time as a whole. It is safe for
// concurrent use.
type deleteTally struct {
	mu     sync.Mutex
	passes []tallied // oldest first
}

// tallied is what one pass deleted, and when.
type tallied struct {
	at   time.Time
	lost int
}

// recent returns the entries deleted by passes within deleteWindow of now.
func (t *deleteTally) recent(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.passes) && now.Sub(t.passes[i].at) > deleteWindow {
		i++
	}
	t.passes = t.passes[i:]
	n := 0
	for _, p := range t.passes {
		n += p.lost
	}
	return n
}

// add records that a pass at now deleted lost entries.
func (t *deleteTally) add(now time.Time, lost int) {
	if lost <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.passes = append(t.passes, tallied{at: now, lost: lost})
}
