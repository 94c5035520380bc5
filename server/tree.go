package server

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// scanTree lists the tree under the root, or the given subtrees of it, in
// path order and without temporary files. scopes must be reduced (see
// [engine.ReduceScopes]): each is scanned once, so overlapping scopes
// would be scanned as often as they are named. Files are not hashed. Items the
// scan had to leave out are logged. The scan is contained: peers may swap
// a directory for a symlink while it runs, and it still lists nothing
// outside the root.
func (s *Server) scanTree(scopes []string) (engine.Manifest, error) {
	opts := engine.ScanOptions{Contained: true, Workers: engine.DefaultScanWorkers, Skip: func(rel string, _ bool) bool {
		return isTempName(path.Base(rel))
	}}
	if len(scopes) == 0 {
		s.stats.scans.Add(1)
		m, errs, err := engine.Scan(s.rootPath, opts)
		if err != nil {
			return nil, fmt.Errorf("scan tree: %w", err)
		}
		s.logScanErrors(errs)
		return m, nil
	}
	var all engine.Manifest
	for _, scope := range scopes {
		s.stats.scans.Add(1)
		m, errs, err := engine.ScanPath(s.rootPath, scope, opts)
		if err != nil {
			return nil, fmt.Errorf("scan %q: %w", scope, err)
		}
		s.logScanErrors(errs)
		all = append(all, m...)
	}
	// Reduced scopes are sorted and disjoint, and each one's entries
	// come sorted: so does their concatenation. Its link sets are found
	// across all the scopes, as the client's scan of them finds them.
	engine.GroupHardLinks(all)
	return all, nil
}

// logScanErrors logs the items a scan left out.
func (s *Server) logScanErrors(errs []engine.ScanError) {
	for _, e := range errs {
		s.log.Warn("scan left out an item", "path", e.Path, "error", e.Err)
	}
}

// buildIndex removes the temporary files an earlier run left anywhere
// under the root, except partial uploads young enough to be resumed, then
// hashes every regular file into the content index.
func (s *Server) buildIndex(ctx context.Context) error {
	start := time.Now()
	var stale []string
	m, errs, err := engine.Scan(s.rootPath, engine.ScanOptions{Skip: func(rel string, _ bool) bool {
		if isTempName(path.Base(rel)) {
			stale = append(stale, rel)
			return true
		}
		return false
	}})
	if err != nil {
		return fmt.Errorf("scan root: %w", err)
	}
	s.logScanErrors(errs)
	now := time.Now()
	kept := 0
	for _, rel := range stale {
		if isPartialName(path.Base(rel)) && s.keepPartial(rel, now) {
			kept++
			continue
		}
		if err := s.root.RemoveAll(rel); err != nil {
			return fmt.Errorf("remove stale temporary file %q: %w", rel, err)
		}
		s.log.Info("removed stale temporary file", "path", rel)
	}
	m, err = s.fillHashes(ctx, m)
	if err != nil {
		return fmt.Errorf("hash tree: %w", err)
	}
	files, bytes, unique := s.index.stats()
	s.log.Info("content index built", "entries", len(m), "files", files, "bytes", bytes,
		"unique_contents", unique, "stale_temp_files", len(stale)-kept, "partial_uploads", kept, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
