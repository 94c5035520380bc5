package client

import (
	"fmt"
	"io"
	"slices"

	"github.com/dirsync/dirsync/engine"
)

// An Omission is an item a pass did not mirror.
type Omission struct {
	// Path is the item's path relative to the root, "." for the root
	// itself. A name that is not valid UTF-8 is kept as it is; quote it
	// to print it.
	Path string
	// Reason says why.
	Reason string
	// Skipped is true for an item that cannot be mirrored at all (a
	// socket): the next pass skips it again.
	// It is false for an item that failed, which the next pass retries.
	Skipped bool
}

// noteSkipped logs the items a pass over scopes (nil for the whole tree)
// skipped because they cannot be mirrored, each once as long as it stays
// skipped: watch mode meets them again at every pass that covers them. It
// returns skipped.
func (c *Client) noteSkipped(skipped []Omission, scopes []string) []Omission {
	if c.toldSkipped == nil {
		c.toldSkipped = make(map[string]bool)
	}
	now := make(map[string]bool, len(skipped))
	for _, o := range skipped {
		now[o.Path] = true
	}
	for p := range c.toldSkipped {
		covered := scopes == nil || slices.ContainsFunc(scopes, func(s string) bool { return engine.IsWithin(p, s) })
		if covered && !now[p] {
			delete(c.toldSkipped, p)
		}
	}
	for _, o := range skipped {
		if !c.toldSkipped[o.Path] {
			c.toldSkipped[o.Path] = true
			c.log.Warn("skipping item that cannot be mirrored", "path", o.Path, "reason", o.Reason)
		}
	}
	return skipped
}

// Skipped counts the items of the summary that were skipped as items that
// cannot be mirrored.
func (s Summary) Skipped() int {
	n := 0
	for _, o := range s.Omitted {
		if o.Skipped {
			n++
		}
	}
	return n
}

// WriteOmissions writes the first max items the pass left out to w, one a
// line with its reason, and a line counting the rest.
func WriteOmissions(w io.Writer, omitted []Omission, max int) error {
	for i, o := range omitted {
		if i == max {
			_, err := fmt.Fprintf(w, "... and %d more\n", len(omitted)-max)
			return err
		}
		what := "failed "
		if o.Skipped {
			what = "skipped"
		}
		if _, err := fmt.Fprintf(w, "%s %q: %s\n", what, o.Path, o.Reason); err != nil {
			return err
		}
	}
	return nil
}
