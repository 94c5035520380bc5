package client

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// driftReadyWait bounds how long watch mode waits for the server's change
// stream before its first pass: the pass must not start before the
// stream, or drift between the two would go unseen, nor wait long for a
// server that is slow or down.
const driftReadyWait = 5 * time.Second

// driftFeed follows the server's WatchChanges stream and turns the
// changes made behind the server's back (drift) into dirty paths for the
// coalescer, so that watch mode repairs them with scoped passes. Changes
// the server made itself, for this client or another, are ignored: they
// cannot make the server differ from what a client sent, and passes over
// them would echo every upload.
//
// A broken stream is reopened with backoff and resumes after the last
// generation seen; the server then replays what was missed or, when it
// cannot (it restarted, or no longer holds the events), says RESYNC and
// a full pass runs.
type driftFeed struct {
	c  *Client
	co *coalescer
	// ready is closed once the first stream has answered, or failed.
	ready     chan struct{}
	readyOnce sync.Once
}

// followDrift starts following the server's changes into co until ctx
// ends, and returns once the stream is open, has failed, or after
// driftReadyWait.
func (c *Client) followDrift(ctx context.Context, co *coalescer) {
	f := &driftFeed{c: c, co: co, ready: make(chan struct{})}
	go f.run(ctx)
	t := time.NewTimer(driftReadyWait)
	defer t.Stop()
	select {
	case <-f.ready:
	case <-t.C:
	case <-ctx.Done():
	}
}

// markReady closes ready, once, and reports whether this call did.
func (f *driftFeed) markReady() bool {
	did := false
	f.readyOnce.Do(func() { close(f.ready); did = true })
	return did
}

// run opens the stream again and again until ctx ends, or the server
// says it has no such RPC.
func (f *driftFeed) run(ctx context.Context) {
	var (
		instance string
		gen      uint64
		bo       = newBackoff(backoffMin, backoffMax)
	)
	for ctx.Err() == nil {
		stream, err := f.c.rpc.WatchChanges(ctx, connect.NewRequest(&dirsyncv1.WatchChangesRequest{
			SinceGeneration:      gen,
			InstanceId:           instance,
			ExcludeServerChanges: true,
		}))
		if err == nil && stream.Receive() {
			msg := stream.Msg()
			switch {
			case instance == "" && f.markReady():
				// Open before the first pass: it sees everything since.
			case msg.GetInstanceId() != instance:
				// A restarted server, or a first stream opened only after
				// a pass: what happened meanwhile is unknown.
				f.c.log.Info("server change stream (re)opened on a new server instance; verifying the whole tree",
					"instance", msg.GetInstanceId())
				f.co.addFull()
			}
			instance, gen = msg.GetInstanceId(), msg.GetGeneration()
			bo.reset()
			for stream.Receive() {
				msg := stream.Msg()
				f.handle(msg.GetEvents())
				gen = msg.GetGeneration()
			}
		}
		if err == nil {
			err = stream.Err()
			stream.Close()
		}
		f.markReady()
		if ctx.Err() != nil {
			return
		}
		if connect.CodeOf(err) == connect.CodeUnimplemented {
			f.c.log.Info("the server does not report changes made behind its back; only the periodic verification repairs them")
			return
		}
		d := bo.next()
		f.c.log.Debug("server change stream ended; reopening", "retry_in", d, "err", err)
		if sleep(ctx, d) != nil {
			return
		}
	}
}

// handle queues the paths that drifted.
func (f *driftFeed) handle(evs []*dirsyncv1.ChangeEvent) {
	for _, ev := range evs {
		p := namedPath(ev)
		switch {
		case ev.GetKind() == dirsyncv1.ChangeKind_CHANGE_KIND_RESYNC:
			f.c.log.Info("the server lost track of its changes; verifying the whole tree")
			f.co.addFull()
		case ev.GetOrigin() == dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_SERVER:
		case p == "":
			f.co.addFull()
		case engine.ValidatePath(p) != nil:
			// Not a path the client could hold: the server is wrong.
			f.c.log.Warn("ignoring a change event with an invalid path", "path", p)
		case f.c.rules.Load().match(p, false):
		default:
			f.c.log.Debug("server copy drifted", "path", p, "kind", ev.GetKind().String())
			f.co.add(p)
		}
	}
}
