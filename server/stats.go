package server

import (
	"sync/atomic"
	"time"
)

// stats counts what the server has done since it started. The fields are
// atomics, so it is safe for concurrent use.
type stats struct {
	filesWritten    atomic.Int64
	entriesDeleted  atomic.Int64
	bytesReceived   atomic.Int64
	literalBytes    atomic.Int64
	deltaSavedBytes atomic.Int64
	dedupSavedBytes atomic.Int64
	failures        atomic.Int64
	lastChangeNs    atomic.Int64 // Unix nanoseconds; 0 until the first change
	// durableSyncs counts the syncs the server waited for before
	// answering: shared syncfs rounds, and fsyncs of single files and
	// directories (for group commits, copied content, deletions and
	// replaced symlinks).
	durableSyncs atomic.Int64
	// setidDropped counts the entries whose set-id bits were cleared;
	// see [Server.keptMode].
	setidDropped atomic.Int64
	// scans counts the scans of the tree or of a subtree, for tests.
	scans atomic.Int64
}

// changed records that the tree was changed now.
func (st *stats) changed() {
	st.lastChangeNs.Store(time.Now().UnixNano())
}

// timeFromNs converts Unix nanoseconds to a time.Time.
func timeFromNs(ns int64) time.Time {
	return time.Unix(0, ns)
}
