package server

import (
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// deletionLogPaths is how many deleted paths the info line of a request
// names; the rest are counted, and every one is logged at debug. Enough
// to recognise what went, few enough that a mass deletion is one line.
const deletionLogPaths = 10

// logDeletions logs the deletions of a batch that succeeded: one info
// line per batch with their count and the first paths, so an operator
// can tell when and what a client removed without a line per file, and
// one debug line per path.
func (s *Server) logDeletions(changes []*dirsyncv1.Change, results []*dirsyncv1.ChangeResult) {
	var paths []string
	n := 0
	for i, ch := range changes {
		rel := ch.GetDelete()
		if rel == "" || i >= len(results) || results[i].GetCode() != 0 {
			continue
		}
		n++
		s.log.Debug("deleted", "path", rel)
		if len(paths) < deletionLogPaths {
			paths = append(paths, rel)
		}
	}
	if n == 0 {
		return
	}
	s.log.Info("deleted entries", "count", n, "paths", paths, "more", n-len(paths))
}
