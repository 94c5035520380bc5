package server

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// ev is a change event on path of kind k, for tests.
func ev(path string, k changeKind) changeEvent {
	return changeEvent{path: path, kind: k, at: time.Unix(0, 0)}
}

// describe renders events as "gen:kind:path" for comparisons.
func describe(evs []changeEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%d:%s", e.gen, e.kind, e.path)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChangeFeedOrderAndScope(t *testing.T) {
	tests := []struct {
		name  string
		scope string
		want  []string
	}{
		{"whole tree", "", []string{"1:2:a/x", "2:3:b", "3:5:", "4:1:a"}},
		{"subtree", "a", []string{"1:2:a/x", "3:5:", "4:1:a"}},
		{"deeper", "a/x", []string{"1:2:a/x", "3:5:", "4:1:a"}},
		{"sibling", "c", []string{"3:5:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newChangeFeed(4)
			sub, gen, err := f.subscribe(tc.scope, false, 0, "")
			if err != nil || gen != 0 {
				t.Fatalf("subscribe = %d, %v; want 0, nil", gen, err)
			}
			f.publish(ev("a/x", kindModified), ev("b", kindRemoved))
			f.publish(ev("", kindRescan))
			f.publish(ev("a", kindCreated))
			select {
			case <-sub.wake:
			default:
				t.Fatal("no wake signal after publish")
			}
			if got := describe(sub.take()); !equalStrings(got, tc.want) {
				t.Errorf("events = %q, want %q", got, tc.want)
			}
			if got := sub.take(); len(got) != 0 {
				t.Errorf("second take = %v, want nothing", describe(got))
			}
		})
	}
}

func TestChangeFeedResume(t *testing.T) {
	f := newChangeFeed(8)
	for i := range 5 {
		f.publish(ev(fmt.Sprintf("f%d", i), kindModified))
	}
	tests := []struct {
		name     string
		since    uint64
		instance string
		want     []string
		wantGen  uint64
	}{
		{"replays what is newer", 3, f.instance, []string{"4:2:f3", "5:2:f4"}, 3},
		{"up to date", 5, f.instance, nil, 5},
		{"another instance", 3, "0123", []string{"5:6:"}, 5},
		{"from the future", 9, f.instance, []string{"5:6:"}, 5},
		{"from now", 0, "", nil, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, gen, err := f.subscribe("", false, tc.since, tc.instance)
			if err != nil {
				t.Fatal(err)
			}
			defer f.unsubscribe(sub)
			if gen != tc.wantGen {
				t.Errorf("start generation = %d, want %d", gen, tc.wantGen)
			}
			if got := describe(sub.take()); !equalStrings(got, tc.want) {
				t.Errorf("events = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChangeFeedResumeTooOld(t *testing.T) {
	f := newChangeFeed(1)
	for range feedRingSize + 10 {
		f.publish(ev("f", kindModified))
	}
	sub, _, err := f.subscribe("", false, 5, f.instance)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("%d:6:", feedRingSize+10)}
	if got := describe(sub.take()); !equalStrings(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	// The ring still reaches back far enough for a recent generation.
	f.unsubscribe(sub)
	sub, _, _ = f.subscribe("", false, feedRingSize+8, f.instance)
	if got := len(sub.take()); got != 2 {
		t.Errorf("resume from a held generation: %d events, want 2", got)
	}
}

func TestChangeFeedSlowSubscriber(t *testing.T) {
	f := newChangeFeed(2)
	slow, _, _ := f.subscribe("", false, 0, "")
	for range feedSubBuffer + 5 {
		f.publish(ev("f", kindModified))
	}
	want := []string{fmt.Sprintf("%d:6:", feedSubBuffer+5)}
	if got := describe(slow.take()); !equalStrings(got, want) {
		t.Errorf("overflowed queue = %q, want one RESYNC %q", got, want)
	}
	// After the RESYNC it gets events again, numbered on.
	f.publish(ev("g", kindCreated))
	want = []string{fmt.Sprintf("%d:1:g", feedSubBuffer+6)}
	if got := describe(slow.take()); !equalStrings(got, want) {
		t.Errorf("after resync = %q, want %q", got, want)
	}
}

func TestChangeFeedSubscriberCap(t *testing.T) {
	f := newChangeFeed(2)
	a, _, err := f.subscribe("", false, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.subscribe("x", false, 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.subscribe("", false, 0, ""); !errors.Is(err, errTooManyWatchers) {
		t.Fatalf("third subscribe: err = %v, want errTooManyWatchers", err)
	}
	f.unsubscribe(a)
	if _, _, err := f.subscribe("", false, 0, ""); err != nil {
		t.Fatalf("subscribe after unsubscribe: %v", err)
	}
}

func TestChangeFeedExcludesOwn(t *testing.T) {
	f := newChangeFeed(2)
	all, _, _ := f.subscribe("", false, 0, "")
	drift, _, _ := f.subscribe("", true, 0, "")
	own := ev("up", kindCreated)
	own.own = true
	f.publish(own, ev("drift", kindModified))
	if got, want := describe(all.take()), []string{"1:1:up", "2:2:drift"}; !equalStrings(got, want) {
		t.Errorf("all changes = %q, want %q", got, want)
	}
	if got, want := describe(drift.take()), []string{"2:2:drift"}; !equalStrings(got, want) {
		t.Errorf("without the server's own = %q, want %q", got, want)
	}
}
