package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompareTrees(t *testing.T) {
	big := make([]byte, 3*compareChunk+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	mtime := time.Date(2024, 3, 4, 5, 6, 7, 890, time.UTC)
	cases := []struct {
		name   string
		change func(t *testing.T, mirror string)
		want   []string // substrings of the differences, in order; none: the trees match
	}{
		{name: "same"},
		{
			name: "content differs in a later chunk of a big file",
			change: func(t *testing.T, mirror string) {
				b := append([]byte(nil), big...)
				b[2*compareChunk+5]++
				write(t, filepath.Join(mirror, "d/big"), b, mtime)
			},
			want: []string{"d/big: content differs"},
		},
		{
			name: "small file after the big one differs",
			change: func(t *testing.T, mirror string) {
				write(t, filepath.Join(mirror, "d/small"), []byte("hellO"), mtime)
			},
			want: []string{"d/small: content differs"},
		},
		{
			name: "mode and mtime",
			change: func(t *testing.T, mirror string) {
				if err := os.Chmod(filepath.Join(mirror, "a"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(filepath.Join(mirror, "d/small"), mtime, mtime.Add(time.Nanosecond)); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"a: mode", "d/small: mtime"},
		},
		{
			name: "missing and extra",
			change: func(t *testing.T, mirror string) {
				if err := os.Remove(filepath.Join(mirror, "a")); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(mirror, "z"), nil, mtime)
			},
			want: []string{"a: missing", "z: extra"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, mirror := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "mirror")
			write(t, filepath.Join(src, "a"), []byte("first"), mtime)
			write(t, filepath.Join(src, "d/big"), big, mtime)
			write(t, filepath.Join(src, "d/small"), []byte("hello"), mtime)
			if out, err := exec.Command("cp", "-a", src, mirror).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
			if tc.change != nil {
				tc.change(t, mirror)
			}
			v, err := compareTrees(src, mirror)
			if err != nil {
				t.Fatal(err)
			}
			if v.Total != len(tc.want) {
				t.Fatalf("%d differences %q, want %d", v.Total, v.Diffs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(v.Diffs[i], w) {
					t.Errorf("difference %d is %q, want it to mention %q", i, v.Diffs[i], w)
				}
			}
		})
	}
}

// write writes a file with data and mtime, making its parents.
func write(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}
