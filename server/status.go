package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Status reports what the server holds and what it has done since it
// started. The counts of entries come from a fresh scan of the tree (no
// hashing), so they are right even if the tree was changed by hand,
// unless the request leaves them out; the count of distinct contents
// comes from the content index.
func (s *Server) Status(ctx context.Context, req *connect.Request[dirsyncv1.StatusRequest]) (*connect.Response[dirsyncv1.StatusResponse], error) {
	var m engine.Manifest
	if !req.Msg.GetOmitTreeCounts() {
		var err error
		if m, err = s.scanTree(nil); err != nil {
			return nil, s.connectError("status", "", err)
		}
	}
	resp := &dirsyncv1.StatusResponse{
		Root:            s.rootName,
		Version:         s.version,
		StartedAt:       timestamppb.New(s.startedAt),
		FilesWritten:    s.stats.filesWritten.Load(),
		EntriesDeleted:  s.stats.entriesDeleted.Load(),
		BytesReceived:   s.stats.bytesReceived.Load(),
		LiteralBytes:    s.stats.literalBytes.Load(),
		DeltaSavedBytes: s.stats.deltaSavedBytes.Load(),
		DedupSavedBytes: s.stats.dedupSavedBytes.Load(),
		Failures:        s.stats.failures.Load(),
		SyncNewFiles:    s.syncNewFiles,
		DurableSyncs:    s.stats.durableSyncs.Load(),
		DropsSetid:      !s.allowSetid,
		SetidDropped:    s.stats.setidDropped.Load(),
		MachineId:       s.identity.machine,
		RootId:          s.identity.root,
		RootAncestorIds: s.identity.ancestors,
	}
	for _, e := range m {
		switch e.Type {
		case engine.TypeFile:
			resp.Files++
			resp.TotalBytes += e.Size
		case engine.TypeDir:
			resp.Directories++
		case engine.TypeSymlink:
			resp.Symlinks++
		}
	}
	_, _, resp.UniqueContents = s.index.stats()
	if ns := s.stats.lastChangeNs.Load(); ns != 0 {
		resp.LastChangeAt = timestamppb.New(timeFromNs(ns))
	}
	return connect.NewResponse(resp), nil
}
