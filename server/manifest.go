package server

import (
	"context"
	"slices"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// manifestBatchSize is the most entries a GetManifestResponse carries:
// about 100 KiB of message for typical paths.
const manifestBatchSize = 1000

// GetManifest streams the tree, or the requested subtrees of it, in path
// order with parents before children, in batches of at most
// [manifestBatchSize] entries. Every regular file carries its SHA-256,
// taken from the content index when the file's size and mtime match it and
// computed otherwise, unless the request asks to omit it. Requested paths
// must be canonical; one that does not exist lists nothing. They are
// reduced first (see [engine.ReduceScopes]), so that a request naming a
// directory many times, or a directory and paths below it, scans and
// hashes each entry once. Every message reports whether the server drops
// set-id bits (see [Server.keptMode]), and the first one describes the
// root directory itself. Paths that are not UTF-8 come in raw_paths.
func (s *Server) GetManifest(ctx context.Context, req *connect.Request[dirsyncv1.GetManifestRequest], stream *connect.ServerStream[dirsyncv1.GetManifestResponse]) error {
	scopes := req.Msg.GetPaths()
	if n := len(scopes) + len(req.Msg.GetRawPaths()); n > maxManifestScopes {
		return s.connectError("get manifest", "", invalidf("%d paths in one manifest request, at most %d allowed", n, maxManifestScopes))
	}
	if raw := req.Msg.GetRawPaths(); len(raw) > 0 {
		scopes = slices.Clip(scopes)
		for _, p := range raw {
			scopes = append(scopes, string(p))
		}
	}
	for _, p := range scopes {
		if err := checkPath(p); err != nil {
			return s.connectError("get manifest", p, err)
		}
	}
	root, err := s.rootEntry()
	if err != nil {
		return s.connectError("get manifest", "", err)
	}
	m, err := s.scanTree(engine.ReduceScopes(scopes))
	if err != nil {
		return s.connectError("get manifest", "", err)
	}
	if !req.Msg.GetOmitSha256() {
		m, err = s.fillHashes(ctx, m)
		if err != nil {
			return s.connectError("get manifest", "", err)
		}
	}
	// Every batch tells whether set-id bits are dropped, and there is a
	// batch even for an empty listing: a client must know that, and the
	// root's metadata, before it plans.
	for first := true; len(m) > 0 || first; first = false {
		n := min(len(m), manifestBatchSize)
		batch := &dirsyncv1.GetManifestResponse{Entries: make([]*dirsyncv1.Entry, n), DropsSetid: !s.allowSetid}
		if first {
			batch.Root = root
		}
		for i, e := range m[:n] {
			batch.Entries[i] = entryToProto(e)
		}
		if err := stream.Send(batch); err != nil {
			return err
		}
		m = m[n:]
	}
	s.log.Debug("manifest sent", "scopes", len(scopes))
	return nil
}
