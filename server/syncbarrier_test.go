package server

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSyncRoundAddPicksOldestFile(t *testing.T) {
	f1, f2, f3 := &os.File{}, &os.File{}, &os.File{}
	dir := &os.Root{}
	tests := []struct {
		name string
		adds []syncSource
		want syncSource
	}{
		{"one file", []syncSource{{file: f1, opened: 4}}, syncSource{file: f1, opened: 4}},
		{"one directory", []syncSource{dirSource(dir)}, dirSource(dir)},
		{"oldest of files", []syncSource{{file: f1, opened: 9}, {file: f2, opened: 2}, {file: f3, opened: 5}}, syncSource{file: f2, opened: 2}},
		{"a file beats a directory", []syncSource{dirSource(dir), {file: f3, opened: 7}}, syncSource{file: f3, opened: 7}},
		{"a directory never replaces a file", []syncSource{{file: f1, opened: 7}, dirSource(dir)}, syncSource{file: f1, opened: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r syncRound
			for _, src := range tt.adds {
				r.add(src)
			}
			if r.src != tt.want {
				t.Errorf("source = %+v, want %+v", r.src, tt.want)
			}
			if r.callers != len(tt.adds) {
				t.Errorf("callers = %d, want %d", r.callers, len(tt.adds))
			}
		})
	}
}

// TestSyncBarrierShares checks that callers arriving while a sync runs
// wait for one more sync, which they share, through the oldest file.
func TestSyncBarrierShares(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan syncSource, 10)
	errShared := errors.New("shared sync failed")
	var calls atomic.Int32
	b := &syncBarrier{syncfs: func(src syncSource) error {
		n := calls.Add(1)
		started <- src
		if n == 1 {
			<-gate
			return nil
		}
		return errShared
	}}
	first := &os.File{}
	firstDone := make(chan error, 1)
	go func() { firstDone <- b.wait(syncSource{file: first, opened: 10}) }()
	if src := <-started; src.file != first {
		t.Fatalf("the first sync ran through %+v", src)
	}

	files := []*os.File{{}, {}, {}}
	opened := []uint64{15, 12, 17}
	errs := make(chan error, len(files))
	for i, f := range files {
		go func() { errs <- b.wait(syncSource{file: f, opened: opened[i]}) }()
	}
	waitFor(t, "three callers queued for the next sync", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.next != nil && b.next.callers == len(files)
	})
	select {
	case err := <-errs:
		t.Fatalf("a caller that came during the first sync returned before a second: %v", err)
	default:
	}
	close(gate)
	if err := <-firstDone; err != nil {
		t.Errorf("first caller: %v", err)
	}
	if src := <-started; src.file != files[1] {
		t.Errorf("the shared sync ran through the file opened %d, want the oldest (12)", src.opened)
	}
	for range files {
		if err := <-errs; !errors.Is(err, errShared) {
			t.Errorf("a sharing caller got %v, want the shared sync's error", err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d syncs for 1 + %d callers, want 2", n, len(files))
	}
	if err := b.wait(dirSource(&os.Root{})); !errors.Is(err, errShared) || calls.Load() != 3 {
		t.Errorf("a caller on an idle barrier: err %v after %d syncs, want its own sync", err, calls.Load())
	}
}

// roundID is the error a test sync returns: the number of the round.
type roundID int64

func (r roundID) Error() string { return fmt.Sprintf("round %d", int64(r)) }

// TestSyncBarrierNeverAnswersWithAnEarlierSync checks, with many callers,
// that every caller is answered by a sync that started after it called.
func TestSyncBarrierNeverAnswersWithAnEarlierSync(t *testing.T) {
	var startedRounds atomic.Int64
	b := &syncBarrier{syncfs: func(syncSource) error {
		id := startedRounds.Add(1)
		time.Sleep(100 * time.Microsecond)
		return roundID(id)
	}}
	var wg sync.WaitGroup
	const callers, each = 8, 200
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				before := startedRounds.Load()
				err := b.wait(syncSource{file: &os.File{}, opened: uint64(c*each + i)})
				var id roundID
				if !errors.As(err, &id) || int64(id) <= before {
					t.Errorf("answered by round %v, but round %d had started before the call", err, before)
					return
				}
			}
		})
	}
	wg.Wait()
	if startedRounds.Load() >= callers*each {
		t.Errorf("%d callers ran %d syncs: none shared", callers*each, startedRounds.Load())
	}
}
