package engine

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// tHard returns a file entry that a scan found to share the inode ino,
// as GroupHardLinks sees it.
func tHard(p string, ino uint64) Entry {
	e := tFile(p, 10, 100)
	e.linkID = FileID{Device: 1, Inode: ino}
	return e
}

// tTarget returns e with HardlinkTarget set to target.
func tTarget(e Entry, target string) Entry {
	e.HardlinkTarget = target
	return e
}

func TestGroupHardLinks(t *testing.T) {
	tests := []struct {
		name string
		m    Manifest
		want []string // HardlinkTarget of each entry
	}{
		{"no links", Manifest{tFile("a", 1, 1), tFile("b", 1, 1)}, []string{"", ""}},
		{"one set", Manifest{tHard("a", 7), tHard("b", 7), tHard("c", 7)}, []string{"", "a", "a"}},
		{"two sets interleaved", Manifest{tHard("a", 1), tHard("b", 2), tHard("c", 1), tHard("d", 2)}, []string{"", "", "a", "b"}},
		{"a lone member of a set is its primary", Manifest{tFile("a", 1, 1), tHard("b", 3)}, []string{"", ""}},
		{"a stale target is recomputed", Manifest{tTarget(tHard("a", 5), "x"), tHard("b", 5)}, []string{"", "a"}},
		{"the same inode on another device is another set", Manifest{tHard("a", 9), func() Entry {
			e := tHard("b", 9)
			e.linkID.Device = 2
			return e
		}()}, []string{"", ""}},
		{"named pipes and devices sharing an inode are no set", Manifest{
			func() Entry { e := tHard("f1", 4); e.Type = TypeFIFO; return e }(),
			func() Entry { e := tHard("f2", 4); e.Type = TypeFIFO; return e }(),
			func() Entry { e := tHard("n1", 6); e.Type = TypeCharDev; return e }(),
			func() Entry { e := tHard("n2", 6); e.Type = TypeCharDev; return e }(),
		}, []string{"", "", "", ""}},
		{"names that are not UTF-8", Manifest{tHard("caf\xe9", 8), tHard("z\xff", 8)}, []string{"", "caf\xe9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := slices.Clone(tt.m)
			GroupHardLinks(m)
			var got []string
			for _, e := range m {
				got = append(got, e.HardlinkTarget)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GroupHardLinks targets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScanHardLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no hard links looked for")
	}
	root := t.TempDir()
	for _, d := range []string{"d", "e"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"e/z", "solo"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"d/y", "a"} {
		if err := os.Link(filepath.Join(root, "e/z"), filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"a": "", "d/y": "a", "e/z": "a", "solo": ""}
	for _, contained := range []bool{false, true} {
		m, errs, err := Scan(root, ScanOptions{Contained: contained, Workers: 2})
		if err != nil || len(errs) > 0 {
			t.Fatalf("Scan(contained %v) = %v, %v", contained, errs, err)
		}
		for _, e := range m {
			if w, ok := want[e.Path]; ok && e.HardlinkTarget != w {
				t.Errorf("Scan(contained %v): %s links to %q, want %q", contained, e.Path, e.HardlinkTarget, w)
			}
		}
		if err := m.Validate(); err != nil {
			t.Errorf("Scan(contained %v) made an invalid manifest: %v", contained, err)
		}
		// A scan of one subtree sees only the links within it.
		sub, _, err := ScanPath(root, "d", ScanOptions{Contained: contained})
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := sub.Lookup("d/y"); !ok || e.HardlinkTarget != "" || !HasHardLinks(sub) {
			t.Errorf("ScanPath(d): d/y = %+v, want a primary with a link id", e)
		}
	}
}

func TestValidateHardLinks(t *testing.T) {
	tests := []struct {
		name string
		m    Manifest
		ok   bool
	}{
		{"good", Manifest{tFile("a", 1, 1), tTarget(tFile("b", 1, 1), "a")}, true},
		{"target missing", Manifest{tTarget(tFile("b", 1, 1), "a")}, false},
		{"target after the entry", Manifest{tTarget(tFile("a", 1, 1), "b"), tFile("b", 1, 1)}, false},
		{"target itself", Manifest{tTarget(tFile("a", 1, 1), "a")}, false},
		{"target a directory", Manifest{tDir("a", 1), tTarget(tFile("b", 1, 1), "a")}, false},
		{"target a secondary", Manifest{tFile("a", 1, 1), tTarget(tFile("b", 1, 1), "a"), tTarget(tFile("c", 1, 1), "b")}, false},
		{"on a directory", Manifest{tFile("a", 1, 1), tTarget(tDir("b", 1), "a")}, false},
		{"invalid target path", Manifest{tFile("a", 1, 1), tTarget(tFile("b", 1, 1), "../a")}, false},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("Validate(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestDiffHardLinks(t *testing.T) {
	a, b, c := tFile("a", 10, 100), tTarget(tFile("b", 10, 100), "a"), tTarget(tFile("c", 10, 100), "a")
	tests := []struct {
		name          string
		local, remote Manifest
		send, link    []string
	}{
		{"new set: primary sent, the others linked", Manifest{a, b, c}, nil, []string{"a"}, []string{"b", "c"}},
		{"unchanged set", Manifest{a, b, c}, Manifest{a, b, c}, nil, nil},
		{"edited set: primary sent, every link made again", Manifest{tMtime(a, 200), tMtime(b, 200), tMtime(c, 200)}, Manifest{a, b, c},
			[]string{"a"}, []string{"b", "c"}},
		{"primary sent: its links made again though they look unchanged", Manifest{tFile("a", 20, 100), b, c}, Manifest{a, b, c},
			[]string{"a"}, []string{"b", "c"}},
		{"linked remotely as a copy", Manifest{a, b}, Manifest{a, tFile("b", 10, 100)}, nil, []string{"b"}},
		{"linked locally no more", Manifest{a, tFile("b", 10, 100)}, Manifest{a, b}, []string{"b"}, nil},
		{"another primary", Manifest{tFile("b", 10, 100), tTarget(tFile("c", 10, 100), "b")}, Manifest{a, b, c}, []string{"b"}, []string{"c"}},
		{"a new link to an unchanged primary", Manifest{a, b}, Manifest{a}, nil, []string{"b"}},
		{"a directory in the way", Manifest{a, b}, Manifest{a, tDir("b", 1)}, nil, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.local, tt.remote)
			var send, link []string
			for _, fc := range p.Send {
				send = append(send, fc.Local.Path)
			}
			for _, e := range p.Link {
				link = append(link, e.Path)
			}
			if !slices.Equal(send, tt.send) || !slices.Equal(link, tt.link) {
				t.Errorf("Diff: Send %q, Link %q; want %q, %q", send, link, tt.send, tt.link)
			}
			for _, e := range p.SetMeta {
				if e.HardlinkTarget != "" {
					t.Errorf("Diff: SetMeta holds the link %s", e.Path)
				}
			}
		})
	}
}
