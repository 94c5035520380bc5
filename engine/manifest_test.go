package engine

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestComparePaths(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "b", -1},
		{"b", "a", +1},
		{"a", "a/b", -1},
		{"a/b", "a-b", -1},
		{"a-b", "a/b", +1},
		{"a/b", "a.b", -1},
		{"a/z", "a0", -1},
		{"a/b/c", "a/b-c", -1},
		{"a/b", "a/b/c", -1},
		{"A", "a", -1},
		{"a b", "a/b", +1},
		{"a/\x7f", "a\x01", -1},
		{"é", "z", +1},
	}
	for _, tt := range tests {
		if got := ComparePaths(tt.a, tt.b); got != tt.want {
			t.Errorf("ComparePaths(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestComparePathsComponentwise checks ComparePaths against a plain
// comparison of the component lists.
func TestComparePathsComponentwise(t *testing.T) {
	names := []string{"a", "b", "a-b", "a.b", "a b", "ab", "a0", "\x01", "\xff", "é"}
	rng := rand.New(rand.NewPCG(1, 2))
	randPath := func() string {
		n := 1 + rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = names[rng.IntN(len(names))]
		}
		return strings.Join(parts, "/")
	}
	for range 20000 {
		a, b := randPath(), randPath()
		want := slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
		if got := ComparePaths(a, b); got != want {
			t.Fatalf("ComparePaths(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}

func TestManifestSort(t *testing.T) {
	m := Manifest{
		{Path: "a-b"}, {Path: "a/b/c"}, {Path: "b"}, {Path: "a/b"},
		{Path: "a.b"}, {Path: "a"}, {Path: "a/b-c"}, {Path: "a/b/c/d"},
	}
	m.Sort()
	want := []string{"a", "a/b", "a/b/c", "a/b/c/d", "a/b-c", "a-b", "a.b", "b"}
	if got := treePaths(m); !slices.Equal(got, want) {
		t.Errorf("Sort() = %q, want %q", got, want)
	}
}

// treePaths returns the paths of m.
func treePaths(m Manifest) []string {
	out := make([]string, len(m))
	for i, e := range m {
		out[i] = e.Path
	}
	return out
}

// sampleManifest is a small valid tree.
func sampleManifest() Manifest {
	return Manifest{
		{Path: "a", Type: TypeDir, Mode: 0o755, MtimeNs: 10},
		{Path: "a/b", Type: TypeDir, Mode: 0o700, MtimeNs: 11},
		{Path: "a/b/f", Type: TypeFile, Mode: 0o644, Size: 3, MtimeNs: 12},
		{Path: "a/l", Type: TypeSymlink, Mode: 0o777, MtimeNs: 13, LinkTarget: "b/f"},
		{Path: "a-b", Type: TypeFile, Mode: 0o600, MtimeNs: 14},
		{Path: "c", Type: TypeDir, Mode: 0o755, MtimeNs: 15},
	}
}

func TestManifestLookup(t *testing.T) {
	m := sampleManifest()
	for _, e := range m {
		got, ok := m.Lookup(e.Path)
		if !ok || got != e {
			t.Errorf("Lookup(%q) = %+v, %v, want %+v, true", e.Path, got, ok, e)
		}
	}
	for _, p := range []string{"", "0", "a/a", "a/b/g", "a-a", "d", "a/b/f/x"} {
		if got, ok := m.Lookup(p); ok {
			t.Errorf("Lookup(%q) = %+v, true, want not found", p, got)
		}
	}
	idx := m.Index()
	if len(idx) != len(m) {
		t.Fatalf("len(Index()) = %d, want %d", len(idx), len(m))
	}
	for _, e := range m {
		if idx[e.Path] != e {
			t.Errorf("Index()[%q] = %+v, want %+v", e.Path, idx[e.Path], e)
		}
	}
}

func TestManifestSubtree(t *testing.T) {
	m := sampleManifest()
	tests := []struct {
		name   string
		scopes []string
		want   []string
	}{
		{"none", nil, nil},
		{"root", []string{""}, treePaths(m)},
		{"dir", []string{"a"}, []string{"a", "a/b", "a/b/f", "a/l"}},
		{"nested dir", []string{"a/b"}, []string{"a/b", "a/b/f"}},
		{"file", []string{"a-b"}, []string{"a-b"}},
		{"missing", []string{"zz", "a/x"}, nil},
		{"overlapping", []string{"a/b/f", "a", "a/b"}, []string{"a", "a/b", "a/b/f", "a/l"}},
		{"disjoint unsorted", []string{"c", "a/l", "a/b/f"}, []string{"a/b/f", "a/l", "c"}},
		{"duplicates", []string{"c", "c"}, []string{"c"}},
		{"root and more", []string{"c", ""}, treePaths(m)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := treePaths(m.Subtree(tt.scopes...))
			if len(got) == 0 {
				got = nil
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Subtree(%q) = %q, want %q", tt.scopes, got, tt.want)
			}
		})
	}
}

func TestManifestValidate(t *testing.T) {
	good := sampleManifest()
	with := func(f func(m Manifest) Manifest) Manifest {
		return f(slices.Clone(good))
	}
	tests := []struct {
		name string
		m    Manifest
		want string // substring of the error; "" means valid
	}{
		{"empty", nil, ""},
		{"good", good, ""},
		{"top-level file", Manifest{{Path: "f", Type: TypeFile}}, ""},
		{"file with hash", Manifest{{Path: "f", Type: TypeFile, Size: 1, HasSHA256: true}}, ""},
		{"bad path", Manifest{{Path: "../x", Type: TypeFile}}, `".." component`},
		{"empty path", Manifest{{Path: "", Type: TypeFile}}, "empty"},
		{"unknown type", Manifest{{Path: "x", Type: 7}}, "unknown type"},
		{"fifo", Manifest{{Path: "x", Type: TypeFIFO}}, ""},
		{"fifo with size", Manifest{{Path: "x", Type: TypeFIFO, Size: 1}}, "fifo with size"},
		{"device", Manifest{{Path: "x", Type: TypeCharDev, DevMajor: 1, DevMinor: 3}}, ""},
		{"file with device numbers", Manifest{{Path: "x", Type: TypeFile, DevMinor: 3}}, "file with device numbers"},
		{"zero type", Manifest{{Path: "x"}}, "unknown type"},
		{"mode too big", Manifest{{Path: "x", Type: TypeFile, Mode: 0o10000}}, "mode"},
		{"negative size", Manifest{{Path: "x", Type: TypeFile, Size: -1}}, "negative size"},
		{"dir with size", Manifest{{Path: "x", Type: TypeDir, Size: 1}}, "dir with size"},
		{"symlink with size", Manifest{{Path: "x", Type: TypeSymlink, Size: 1, LinkTarget: "y"}}, "symlink with size"},
		{"dir with hash", Manifest{{Path: "x", Type: TypeDir, HasSHA256: true}}, "hash"},
		{"symlink without target", Manifest{{Path: "x", Type: TypeSymlink}}, "empty target"},
		{"symlink target NUL", Manifest{{Path: "x", Type: TypeSymlink, LinkTarget: "a\x00"}}, "NUL"},
		{"symlink target too long", Manifest{{Path: "x", Type: TypeSymlink, LinkTarget: strings.Repeat("t", MaxPathLength+1)}}, "longer"},
		{"file with target", Manifest{{Path: "x", Type: TypeFile, LinkTarget: "y"}}, "link target"},
		{"unsorted", with(func(m Manifest) Manifest { m[4], m[5] = m[5], m[4]; return m }), "out of order"},
		{"byte order not path order", Manifest{
			{Path: "a", Type: TypeDir}, {Path: "a-b", Type: TypeFile}, {Path: "a/b", Type: TypeFile},
		}, "out of order"},
		{"duplicate", with(func(m Manifest) Manifest { return slices.Insert(m, 5, m[5]) }), "duplicate"},
		{"missing parent", Manifest{{Path: "a/b", Type: TypeFile}}, `parent "a" not listed`},
		{"missing grandparent", Manifest{{Path: "a", Type: TypeDir}, {Path: "a/b/c", Type: TypeFile}}, `parent "a/b" not listed`},
		{"parent closed", Manifest{
			{Path: "a", Type: TypeDir}, {Path: "a/b", Type: TypeDir}, {Path: "a/c", Type: TypeFile}, {Path: "a/c/d", Type: TypeFile},
		}, "parent is a file"},
		{"parent is file", Manifest{{Path: "a", Type: TypeFile}, {Path: "a/b", Type: TypeFile}}, "parent is a file"},
		{"parent is symlink", Manifest{{Path: "a", Type: TypeSymlink, LinkTarget: "/etc"}, {Path: "a/passwd", Type: TypeFile}}, "parent is a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidManifest) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidManifest", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestManifestValidateWrapsPathError(t *testing.T) {
	err := Manifest{{Path: "/etc/passwd", Type: TypeFile}}.Validate()
	if !errors.Is(err, ErrInvalidManifest) || !errors.Is(err, ErrInvalidPath) {
		t.Errorf("Validate() = %v, want it to wrap ErrInvalidManifest and ErrInvalidPath", err)
	}
}
