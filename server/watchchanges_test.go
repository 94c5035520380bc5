package server

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// watchStream opens WatchChanges on c and returns the stream after its
// first answer.
func watchStream(t *testing.T, ctx context.Context, c dirsyncv1connect.SyncServiceClient, req *dirsyncv1.WatchChangesRequest) (*connect.ServerStreamForClient[dirsyncv1.WatchChangesResponse], *dirsyncv1.WatchChangesResponse) {
	t.Helper()
	stream, err := c.WatchChanges(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatalf("WatchChanges: %v", err)
	}
	t.Cleanup(func() { stream.Close() })
	if !stream.Receive() {
		t.Fatalf("WatchChanges: no first answer: %v", stream.Err())
	}
	return stream, stream.Msg()
}

// nextEvent returns the next event of stream.
func nextEvent(t *testing.T, stream *connect.ServerStreamForClient[dirsyncv1.WatchChangesResponse], pending *[]*dirsyncv1.ChangeEvent) *dirsyncv1.ChangeEvent {
	t.Helper()
	for len(*pending) == 0 {
		if !stream.Receive() {
			t.Fatalf("stream ended: %v", stream.Err())
		}
		*pending = stream.Msg().GetEvents()
	}
	ev := (*pending)[0]
	*pending = (*pending)[1:]
	return ev
}

func TestWatchChangesRPC(t *testing.T) {
	forEachProtocolOpts(t, Options{MaxWatchers: 2}, func(t *testing.T, env *testEnv) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel) // before the server closes: it waits for streams
		stream, first := watchStream(t, ctx, env.client, &dirsyncv1.WatchChangesRequest{})
		if first.GetInstanceId() == "" || first.GetGeneration() != 0 || len(first.GetEvents()) != 0 {
			t.Fatalf("first answer = %v, want an instance id, generation 0, no events", first)
		}
		var pending []*dirsyncv1.ChangeEvent

		data := []byte("sent by a client")
		env.uploadAll(t, 1, literalUpload(fileEntry("up.txt", data, 0o644, time.Now()), data)...)
		ev := nextEvent(t, stream, &pending)
		if ev.GetPath() != "up.txt" || ev.GetOrigin() != dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_SERVER || ev.GetGeneration() != 1 {
			t.Errorf("event of an upload = %v, want up.txt from the server at generation 1", ev)
		}
		writeFile(t, env.root, "drift.txt", []byte("behind the server's back"))
		ev = nextEvent(t, stream, &pending)
		if ev.GetPath() != "drift.txt" || ev.GetOrigin() != dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_EXTERNAL ||
			ev.GetKind() != dirsyncv1.ChangeKind_CHANGE_KIND_CREATED || ev.GetGeneration() != 2 {
			t.Errorf("event of drift = %v, want drift.txt created externally at generation 2", ev)
		}

		// Resuming after generation 1 replays generation 2.
		resumed, _ := watchStream(t, ctx, env.client, &dirsyncv1.WatchChangesRequest{
			SinceGeneration: 1, InstanceId: first.GetInstanceId()})
		pending = nil
		if ev := nextEvent(t, resumed, &pending); ev.GetPath() != "drift.txt" || ev.GetGeneration() != 2 {
			t.Errorf("resumed stream's first event = %v, want drift.txt at generation 2", ev)
		}

		// Two streams are open: a third is refused.
		third, err := env.client.WatchChanges(ctx, connect.NewRequest(&dirsyncv1.WatchChangesRequest{}))
		if err == nil {
			third.Receive()
			err = third.Err()
			third.Close()
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("third stream: %v, want ResourceExhausted", err)
		}
	})
}

func TestWatchChangesBadScope(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	for _, scope := range []string{"../x", "/etc", "a//b"} {
		stream, err := env.client.WatchChanges(testCtx(t), connect.NewRequest(&dirsyncv1.WatchChangesRequest{Path: scope}))
		if err == nil {
			stream.Receive()
			err = stream.Err()
			stream.Close()
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("scope %q: %v, want InvalidArgument", scope, err)
		}
	}
}

func TestWatchChangesTenants(t *testing.T) {
	env := newTenantEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	a := env.client(t, protocols[1], "Bearer "+tokenA)
	ro := env.client(t, protocols[1], "Bearer "+tokenRO)
	sa, _ := watchStream(t, ctx, a.client, &dirsyncv1.WatchChangesRequest{})
	sro, _ := watchStream(t, ctx, ro.client, &dirsyncv1.WatchChangesRequest{}) // read-only may watch
	writeFile(t, env.roots["b"], "b-only.txt", []byte("b"))
	writeFile(t, env.roots["a"], "a-only.txt", []byte("a"))
	writeFile(t, env.roots["ro"], "ro-only.txt", []byte("ro"))
	var pa, pro []*dirsyncv1.ChangeEvent
	if ev := nextEvent(t, sa, &pa); ev.GetPath() != "a-only.txt" || ev.GetGeneration() != 1 {
		t.Errorf("tenant a's first event = %v, want its own a-only.txt at generation 1", ev)
	}
	if ev := nextEvent(t, sro, &pro); ev.GetPath() != "ro-only.txt" {
		t.Errorf("tenant ro's first event = %v, want ro-only.txt", ev)
	}
}

// TestWatchRootMetadata checks that the server's own change of the root's
// metadata reaches a watcher as one METADATA event from the server, not
// as a rescan from outside, and that a raw name's event comes raw.
func TestWatchRootMetadata(t *testing.T) {
	env := newEnv(t, "", protocols[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	stream, _ := watchStream(t, ctx, env.client, &dirsyncv1.WatchChangesRequest{})
	var pending []*dirsyncv1.ChangeEvent
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if r := env.applyChanges(t, rootMetaChange("", 0o750, mtime)); r[0].GetCode() != 0 {
		t.Fatalf("set root metadata: %v", r[0])
	}
	ev := nextEvent(t, stream, &pending)
	if ev.GetPath() != "" || ev.GetKind() != dirsyncv1.ChangeKind_CHANGE_KIND_METADATA || ev.GetOrigin() != dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_SERVER {
		t.Errorf("event of set root metadata = %v, want METADATA of the root from the server", ev)
	}
	data := []byte("x")
	env.uploadAll(t, 1, literalUpload(rawEntry(fileEntry("caf\xe9", data, 0o644, mtime)), data)...)
	ev = nextEvent(t, stream, &pending)
	if string(ev.GetRawPath()) != "caf\xe9" || ev.GetPath() != "" {
		t.Errorf("event of a raw name = %v, want raw_path %q", ev, "caf\xe9")
	}
}
