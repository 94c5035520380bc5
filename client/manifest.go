package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// fetchManifest returns the server's manifest of the subtrees scopes, or of
// the whole tree when scopes is empty. scopes must be reduced (see
// engine.ReduceScopes) and must not hold "". The manifest is validated: sorted,
// without duplicates, every entry well formed and inside a requested
// scope.
func (c *Client) fetchManifest(ctx context.Context, scopes []string) (engine.Manifest, error) {
	// Hashes stay on the server: the client compares by size and mtime,
	// and copy_content asks about content.
	req := &dirsyncv1.GetManifestRequest{OmitSha256: true}
	for _, s := range scopes {
		text, raw := engine.WirePath(s)
		if raw != nil {
			req.RawPaths = append(req.RawPaths, raw)
		} else {
			req.Paths = append(req.Paths, text)
		}
	}
	c.remoteRoot.Store(nil)
	stream, err := c.rpc.GetManifest(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("get manifest: %w", err)
	}
	defer stream.Close()
	var m engine.Manifest
	for stream.Receive() {
		c.dropsSetid.Store(stream.Msg().GetDropsSetid())
		if r := stream.Msg().GetRoot(); r != nil {
			root, err := rootFromProto(r)
			if err != nil {
				return nil, fmt.Errorf("get manifest: %w", err)
			}
			c.remoteRoot.Store(&root)
		}
		for _, p := range stream.Msg().GetEntries() {
			if len(m) >= engine.MaxManifestEntries {
				return nil, fmt.Errorf("get manifest: more than %d entries", engine.MaxManifestEntries)
			}
			e, err := entryFromProto(p)
			if err != nil {
				return nil, fmt.Errorf("get manifest: %w", err)
			}
			m = append(m, e)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("get manifest: %w", err)
	}
	if err := validateScoped(m, scopes); err != nil {
		return nil, fmt.Errorf("get manifest: %w", err)
	}
	return m, nil
}

// validateScoped validates m, the server's listing of the subtrees scopes
// (all of the tree when scopes is empty). The parents of a scope are not
// listed, so it checks m together with a directory entry for each of them,
// which [engine.Manifest.Validate] then finds where it expects them.
func validateScoped(m engine.Manifest, scopes []string) error {
	if len(scopes) == 0 {
		return m.Validate()
	}
	ancestors := make(map[string]bool)
	for _, s := range scopes {
		for p := engine.ParentPath(s); p != ""; p = engine.ParentPath(p) {
			ancestors[p] = true
		}
	}
	// m and scopes are both sorted and the scopes are disjoint, so the
	// entries of each scope form a run, in scope order.
	i := 0
	for k, e := range m {
		if k > 0 && engine.ComparePaths(m[k-1].Path, e.Path) >= 0 {
			return fmt.Errorf("%w: entry %d %q out of order or duplicate", engine.ErrInvalidManifest, k, e.Path)
		}
		for i < len(scopes) && !engine.IsWithin(e.Path, scopes[i]) {
			i++
		}
		if i == len(scopes) {
			return fmt.Errorf("%w: entry %q outside the requested paths", engine.ErrInvalidManifest, e.Path)
		}
	}
	if len(ancestors) == 0 {
		return m.Validate()
	}
	full := make(engine.Manifest, 0, len(m)+len(ancestors))
	full = append(full, m...)
	for p := range ancestors {
		full = append(full, engine.Entry{Path: p, Type: engine.TypeDir, Mode: 0o755})
	}
	full.Sort()
	return full.Validate()
}
