package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// watchBatchMax is the most events one WatchChangesResponse carries.
const watchBatchMax = 512

// WatchChanges streams the changes to the tree at or under the requested
// path, as [changeFeed] numbers them, until the caller ends the stream or
// the server stops watching (see [Server.StopWatches]). The first call
// starts watching the root. Each stream holds at most feedSubBuffer
// events; a caller that reads slower than that gets a RESYNC event.
func (s *Server) WatchChanges(ctx context.Context, req *connect.Request[dirsyncv1.WatchChangesRequest], stream *connect.ServerStream[dirsyncv1.WatchChangesResponse]) error {
	scope, err := pathFromProto("path", req.Msg.GetPath(), req.Msg.GetRawPath())
	if err != nil {
		return s.connectError("watch changes", scope, err)
	}
	if scope != "" {
		if err := checkPath(scope); err != nil {
			return s.connectError("watch changes", scope, err)
		}
	}
	select {
	case <-s.watchStop:
		return connect.NewError(connect.CodeUnavailable, errors.New("watch changes: the server is shutting down"))
	default:
	}
	s.startWatching()
	sub, gen, err := s.feed.subscribe(scope, req.Msg.GetExcludeServerChanges(), req.Msg.GetSinceGeneration(), req.Msg.GetInstanceId())
	if err != nil {
		return s.connectError("watch changes", scope,
			failf(connect.CodeResourceExhausted, "watch changes: at most %d streams at once", s.feed.maxSubs))
	}
	defer s.feed.unsubscribe(sub)
	s.log.Debug("watch started", "path", scope, "generation", gen)
	if err := stream.Send(&dirsyncv1.WatchChangesResponse{InstanceId: s.feed.instance, Generation: gen}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.watchStop:
			return nil
		case <-sub.wake:
		}
		evs := sub.take()
		for len(evs) > 0 {
			n := min(len(evs), watchBatchMax)
			resp := &dirsyncv1.WatchChangesResponse{
				InstanceId: s.feed.instance,
				Events:     make([]*dirsyncv1.ChangeEvent, n),
				Generation: evs[n-1].gen,
			}
			for i, ev := range evs[:n] {
				resp.Events[i] = changeEventToProto(ev)
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
			evs = evs[n:]
		}
	}
}

// changeEventToProto converts ev to its wire form.
func changeEventToProto(ev changeEvent) *dirsyncv1.ChangeEvent {
	origin := dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_EXTERNAL
	if ev.own {
		origin = dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_SERVER
	}
	pe := &dirsyncv1.ChangeEvent{
		Generation: ev.gen,
		Kind:       dirsyncv1.ChangeKind(ev.kind),
		Origin:     origin,
		Time:       timestamppb.New(ev.at),
	}
	pe.Path, pe.RawPath = engine.WirePath(ev.path)
	return pe
}

// startWatching starts watching the root, once: a server nobody watches
// keeps no inotify watches.
func (s *Server) startWatching() {
	s.watchOnce.Do(func() {
		w := startRootWatch(s.root, s.rootPath, s.feed, s.log)
		s.watchMu.Lock()
		s.watch = w
		s.watchMu.Unlock()
	})
}

// ownChange marks rel as being changed by the server on a client's behalf,
// for the root watcher to tell the events of the change from drift, and
// returns the function to call once the change is over.
func (s *Server) ownChange(rel string) func() {
	s.watchMu.Lock()
	w := s.watch
	s.watchMu.Unlock()
	if w == nil {
		return func() {}
	}
	return w.ownChange(rel)
}

// StopWatches ends every WatchChanges stream, for a graceful shutdown:
// they would otherwise keep their connections busy until the shutdown
// times out. Register it with [net/http.Server.RegisterOnShutdown]. Later
// streams end at once too.
func (s *Server) StopWatches() {
	s.watchStopOnce.Do(func() { close(s.watchStop) })
}

// closeWatch stops watching the root.
func (s *Server) closeWatch() {
	s.StopWatches()
	s.watchMu.Lock()
	w := s.watch
	s.watch = nil
	s.watchMu.Unlock()
	if w != nil {
		w.close()
	}
}
