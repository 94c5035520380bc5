package engine

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzValidatePath(f *testing.F) {
	for _, p := range []string{
		"a", "a/b/c", "répertoire/日本語", "$(rm -rf)/`x`", `'"*?[]`, "..a/b..",
		"", ".", "..", "../x", "a/../../x", "/abs", `a\b`, "a\x00b", "a//b", "a/", "./a",
		"a/./b", "\xff", "caf\xe9/x", "a\xff/..", strings.Repeat("n", MaxNameLength+1),
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := ValidatePath(p); err != nil {
			return
		}
		if path.Clean(p) != p {
			t.Errorf("ValidatePath(%q) = nil, but path.Clean gives %q", p, path.Clean(p))
		}
		if strings.HasPrefix(p, "/") || !filepath.IsLocal(p) {
			t.Errorf("ValidatePath(%q) = nil, but the path is not local", p)
		}
		for _, name := range strings.Split(p, "/") {
			if name == ".." || name == "." || name == "" {
				t.Errorf("ValidatePath(%q) = nil, but it has component %q", p, name)
			}
		}
		if strings.Contains(p, "\x00") || (backslashSeparates && strings.Contains(p, `\`)) || len(p) > MaxPathLength {
			t.Errorf("ValidatePath(%q) = nil, but it has NUL, a separating backslash or is too long", p)
		}
		if parent := ParentPath(p); parent != "" {
			if err := ValidatePath(parent); err != nil {
				t.Errorf("ValidatePath(ParentPath(%q)) = %v", p, err)
			}
			if ComparePaths(parent, p) >= 0 || !IsWithin(p, parent) {
				t.Errorf("parent %q of %q does not sort before it or contain it", parent, p)
			}
		}
	})
}

// decodeFuzzManifest turns fuzz bytes into a manifest. Each entry is a
// header of 7 bytes: type, mode (two bytes, big-endian, 13 bits kept), size
// (signed), mtime, flags, path length; then the path; then, if flags&1, a
// target length byte and the target; then, if flags&4, a length byte and
// a HardlinkTarget. flags&2 sets HasSHA256.
func decodeFuzzManifest(data []byte) Manifest {
	var m Manifest
	for len(data) >= 7 && len(m) < 1000 {
		e := Entry{
			Type:    EntryType(data[0]),
			Mode:    (uint32(data[1])<<8 | uint32(data[2])) & 0x1fff,
			Size:    int64(int8(data[3])),
			MtimeNs: int64(data[4]),
		}
		flags := data[5]
		n := int(data[6])
		data = data[7:]
		n = min(n, len(data))
		e.Path, data = string(data[:n]), data[n:]
		if flags&1 != 0 && len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			e.LinkTarget, data = string(data[1:1+n]), data[1+n:]
		}
		if flags&4 != 0 && len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			e.HardlinkTarget, data = string(data[1:1+n]), data[1+n:]
		}
		e.HasSHA256 = flags&2 != 0
		m = append(m, e)
	}
	return m
}

// encodeFuzzManifest is the inverse of decodeFuzzManifest, for seeds.
func encodeFuzzManifest(m Manifest) []byte {
	var b []byte
	for _, e := range m {
		var flags byte
		if e.LinkTarget != "" {
			flags |= 1
		}
		if e.HasSHA256 {
			flags |= 2
		}
		if e.HardlinkTarget != "" {
			flags |= 4
		}
		b = append(b, byte(e.Type), byte(e.Mode>>8), byte(e.Mode), byte(e.Size), byte(e.MtimeNs), flags, byte(len(e.Path)))
		b = append(b, e.Path...)
		if e.LinkTarget != "" {
			b = append(b, byte(len(e.LinkTarget)))
			b = append(b, e.LinkTarget...)
		}
		if e.HardlinkTarget != "" {
			b = append(b, byte(len(e.HardlinkTarget)))
			b = append(b, e.HardlinkTarget...)
		}
	}
	return b
}

func FuzzManifestValidate(f *testing.F) {
	seeds := []Manifest{
		nil,
		sampleManifest(),
		{tDir("a", 1), tDir("a/b", 2), tFile("a/b/c", 3, 4), tFile("a-b", 1, 1)},
		{tFile("a", 1, 1), tLink("b", "a")},
		{tDir("a", 1), tFile("a/x", 1, 1), tFile("a-b", 2, 2)},
		{tFile("a/b", 1, 1)},
		{tDir("b", 1), tDir("a", 1)},
		{tFile("a", 1, 1), tTarget(tFile("b", 1, 1), "a"), tTarget(tFile("c", 2, 2), "a")},
		{tFile("a", 1, 2), tFile("b", 1, 1), tTarget(tFile("c", 1, 1), "a")},
		{tTarget(tFile("b", 1, 1), "a")},
	}
	for i, a := range seeds {
		b := seeds[(i+1)%len(seeds)]
		f.Add(encodeFuzzManifest(a), encodeFuzzManifest(b))
	}
	f.Fuzz(func(t *testing.T, da, db []byte) {
		a, b := decodeFuzzManifest(da), decodeFuzzManifest(db)
		if a.Validate() != nil {
			return
		}
		var dirs, files, links, top int
		for _, e := range a {
			switch e.Type {
			case TypeDir:
				dirs++
			case TypeFile:
				files++
			case TypeSymlink:
				links++
			}
			if ParentPath(e.Path) == "" {
				top++
			}
		}
		create := Diff(a, nil)
		if len(create.Delete) != 0 || len(create.Mkdir) != dirs || len(create.Send)+len(create.Link) != files ||
			len(create.Symlink) != links || len(create.SetMeta) != dirs {
			t.Errorf("Diff(m, empty) = %v, want 0 to delete, %d dirs, %d files, %d symlinks, %d metadata",
				create, dirs, files, links, dirs)
		}
		if err := checkPlan(a, nil, create); err != nil {
			t.Errorf("applying Diff(m, empty): %v", err)
		}
		remove := Diff(nil, a)
		if len(remove.Delete) != top || len(remove.Mkdir)+len(remove.Send)+len(remove.Symlink)+len(remove.Link)+len(remove.SetMeta) != 0 {
			t.Errorf("Diff(empty, m) = %v, want %d to delete and nothing else", remove, top)
		}
		if err := checkPlan(nil, a, remove); err != nil {
			t.Errorf("applying Diff(empty, m): %v", err)
		}
		if p := Diff(a, a); !p.Empty() {
			t.Errorf("Diff(m, m) = %v, want empty", p)
		}
		if b.Validate() != nil {
			return
		}
		if err := checkPlan(a, b, Diff(a, b)); err != nil {
			t.Errorf("applying Diff(a, b): %v", err)
		}
		if err := checkPlan(b, a, Diff(b, a)); err != nil {
			t.Errorf("applying Diff(b, a): %v", err)
		}
	})
}
