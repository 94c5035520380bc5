package server

import (
	"fmt"
	"io/fs"
	"testing"
	"time"
)

func TestOwnMarks(t *testing.T) {
	t0 := time.Unix(1000, 0)
	file := entryIdent{exists: true, mode: 0o644, size: 5, mtimeNs: 1, ctimeNs: 1, ino: 7}
	dir := entryIdent{exists: true, isDir: true, mode: fs.ModeDir | 0o755, ino: 8}
	gone := entryIdent{}
	edited := file
	edited.size, edited.ctimeNs = 6, 2

	m := newOwnMarks(100)
	m.put("d/f", file, t0.Add(ownTTL))
	m.put("x", gone, t0.Add(ownTTL))
	tests := []struct {
		name string
		path string
		now  entryIdent
		at   time.Time
		want bool
	}{
		{"as the server left it", "d/f", file, t0, true},
		{"changed since", "d/f", edited, t0, false},
		{"removed since", "d/f", gone, t0, false},
		{"mark expired", "d/f", file, t0.Add(ownTTL + time.Millisecond), false},
		{"directory made on the way", "d", dir, t0, true},
		{"file where the directory was", "d", file, t0, false},
		{"unmarked path", "e", file, t0, false},
		{"removed by the server", "x", gone, t0, true},
		{"child of what the server removed", "x/y/z", gone, t0, true},
		{"recreated behind its back", "x", file, t0, false},
		{"child gone under a directory the server made", "d/g", gone, t0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.own(tc.path, tc.now, tc.at); got != tc.want {
				t.Errorf("own(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestOwnMarksExpire(t *testing.T) {
	t0 := time.Unix(1000, 0)
	file := entryIdent{exists: true, size: 1}
	m := newOwnMarks(100)
	m.put("a", file, t0.Add(ownTTL))
	m.put("b", file, t0.Add(2*ownTTL))
	m.put("a", file, t0.Add(3*ownTTL)) // refreshed: outlives its first entry
	m.sweep(t0.Add(ownTTL + time.Millisecond))
	if _, ok := m.marks["a"]; !ok {
		t.Error("a refreshed mark was dropped with its older entry")
	}
	m.sweep(t0.Add(2*ownTTL + time.Millisecond))
	if _, ok := m.marks["b"]; ok {
		t.Error("an expired mark was kept")
	}
	m.sweep(t0.Add(4 * ownTTL))
	if len(m.marks) != 0 || len(m.anc) != 0 || len(m.order)-m.head != 0 {
		t.Errorf("after all expired: %d marks, %d ancestors, %d entries", len(m.marks), len(m.anc), len(m.order)-m.head)
	}
}

func TestOwnMarksCap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	file := entryIdent{exists: true, size: 1}
	m := newOwnMarks(10)
	for i := range 50 {
		m.put(fmt.Sprintf("f%02d", i), file, t0.Add(ownTTL))
	}
	if n := len(m.order) - m.head; n > 10 || len(m.marks) > 10 {
		t.Errorf("%d entries and %d marks kept, want at most 10", n, len(m.marks))
	}
	if !m.own("f49", file, t0) || m.own("f00", file, t0) {
		t.Error("past the cap the newest marks must stay and the oldest go")
	}
}
