package client

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

func TestDriftFeedHandle(t *testing.T) {
	const (
		ext  = dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_EXTERNAL
		own  = dirsyncv1.ChangeOrigin_CHANGE_ORIGIN_SERVER
		mod  = dirsyncv1.ChangeKind_CHANGE_KIND_MODIFIED
		gone = dirsyncv1.ChangeKind_CHANGE_KIND_REMOVED
	)
	event := func(path string, kind dirsyncv1.ChangeKind, origin dirsyncv1.ChangeOrigin) *dirsyncv1.ChangeEvent {
		return &dirsyncv1.ChangeEvent{Path: path, Kind: kind, Origin: origin}
	}
	tests := []struct {
		name      string
		evs       []*dirsyncv1.ChangeEvent
		wantPaths []string
		wantFull  bool
	}{
		{"drift", []*dirsyncv1.ChangeEvent{event("a/b", mod, ext), event("c", gone, ext)}, []string{"a/b", "c"}, false},
		{"own writes", []*dirsyncv1.ChangeEvent{event("a/b", mod, own), event("c", gone, own)}, []string{}, false},
		{"ignored path", []*dirsyncv1.ChangeEvent{event("x.tmp", mod, ext)}, []string{}, false},
		{"invalid path", []*dirsyncv1.ChangeEvent{event("../etc", mod, ext), event("/abs", mod, ext)}, []string{}, false},
		{"rescan of a subtree", []*dirsyncv1.ChangeEvent{event("d", dirsyncv1.ChangeKind_CHANGE_KIND_RESCAN, ext)}, []string{"d"}, false},
		{"rescan of the root", []*dirsyncv1.ChangeEvent{event("", dirsyncv1.ChangeKind_CHANGE_KIND_RESCAN, ext)}, nil, true},
		{"resync", []*dirsyncv1.ChangeEvent{event("a", dirsyncv1.ChangeKind_CHANGE_KIND_RESYNC, ext)}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Options{Dir: t.TempDir(), Excludes: []string{"*.tmp"}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			co := newCoalescer(time.Hour, 50)
			defer co.stop()
			f := &driftFeed{c: c, co: co}
			f.handle(tc.evs)
			paths, full := co.take()
			slices.Sort(paths)
			if full != tc.wantFull || !tc.wantFull && !slices.Equal(paths, tc.wantPaths) {
				t.Errorf("take() = %q, full %v; want %q, full %v", paths, full, tc.wantPaths, tc.wantFull)
			}
		})
	}
}

func TestWatchLoopVerifies(t *testing.T) {
	f := newFakePasses()
	co := newCoalescer(time.Millisecond, 50)
	defer co.stop()
	l := &watchLoop{
		co:          co,
		pass:        f.pass,
		log:         slog.New(slog.DiscardHandler),
		connBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
		failBackoff: newBackoff(time.Millisecond, 2*time.Millisecond),
		verifyEvery: 20 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	for i := range 3 {
		if c := f.next(t); !c.full {
			t.Fatalf("pass %d = %+v with no event, want a full verification pass", i+1, c)
		}
	}
}
