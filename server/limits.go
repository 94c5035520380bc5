package server

import (
	"fmt"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// Limits on what a peer may ask for, beyond the message size
// ([Options.MaxMessageBytes]) and the configurable ones of [Options]. Each
// is checked before the server allocates or writes anything for it.
const (
	// maxChangesPerRequest bounds the changes of one ApplyChanges request,
	// so one request cannot hold the server for long.
	maxChangesPerRequest = 10000
	// maxManifestScopes bounds the paths of one GetManifest request: as
	// many as the client's watcher ever asks for before it falls back to a
	// full pass.
	maxManifestScopes = 10000
	// maxLinkTarget bounds a symlink's target, in bytes: Linux's PATH_MAX
	// less its terminating NUL, the longest target symlink(2) takes.
	maxLinkTarget = engine.MaxPathLength - 1
)

// Defaults of the configurable limits.
const (
	// DefaultMaxTempBytes is the default of [Options.MaxTempBytes]: 4 GiB
	// of uploads in flight per tenant.
	DefaultMaxTempBytes = 4 << 30
	// DefaultMaxUploadStreams is the default of
	// [Options.MaxUploadStreams]. It is the client's largest
	// --concurrency, so that one client never meets it.
	DefaultMaxUploadStreams = 64
)

// tempBudget accounts for the temporary space that uploads in flight may
// fill: each file reserves the size its header declares before its
// temporary file is created, and releases it when it is committed or
// abandoned. It is safe for concurrent use.
type tempBudget struct {
	mu    sync.Mutex
	limit int64 // bytes; 0 means unlimited
	used  int64
}

// reserve reserves n bytes and reports whether it could. A reservation
// that fits, or that is the only one (so that one file larger than the
// limit is still accepted, alone), succeeds.
func (b *tempBudget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.used > 0 && n > b.limit-b.used {
		return false
	}
	b.used += n
	return true
}

// release returns n reserved bytes.
func (b *tempBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// inUse returns the bytes reserved.
func (b *tempBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// streamCap counts the Upload streams of one tenant and refuses one more
// than its limit. It is safe for concurrent use.
type streamCap struct {
	limit int64
	n     atomic.Int64
}

// acquire takes one stream, or returns a ResourceExhausted error naming
// the limit.
func (c *streamCap) acquire() error {
	if c.n.Add(1) > c.limit {
		c.n.Add(-1)
		return connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("too many concurrent upload streams: at most %d per tenant (--max-upload-streams)", c.limit))
	}
	return nil
}

// release gives back a stream taken by acquire.
func (c *streamCap) release() {
	c.n.Add(-1)
}

// checkFileSize refuses a file whose declared size exceeds max (0 means
// unlimited) with ResourceExhausted.
func checkFileSize(rel string, size, max int64) error {
	if max > 0 && size > max {
		return failf(connect.CodeResourceExhausted,
			"upload of %q: size %d bytes exceeds the server's limit of %d bytes (--max-file-bytes)", rel, size, max)
	}
	return nil
}

// reserveTemp reserves n bytes of temporary space for rel, or returns a
// ResourceExhausted error naming the limit.
func (s *Server) reserveTemp(rel string, n int64) error {
	if !s.temp.reserve(n) {
		return failf(connect.CodeResourceExhausted,
			"upload of %q: %d bytes would exceed the %d bytes of uploads in flight allowed (--max-temp-bytes); retry later",
			rel, n, s.temp.limit)
	}
	return nil
}
