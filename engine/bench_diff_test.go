package engine

import (
	"fmt"
	"testing"
)

// benchTree returns the manifest of a tree shaped like the benchmark's
// small dataset: files in dirs directories two levels deep, sorted.
func benchTree(files, dirs int) Manifest {
	var m Manifest
	for d := range dirs {
		top := fmt.Sprintf("top%02d", d%20)
		dir := fmt.Sprintf("%s/dir%04d", top, d)
		m = append(m, Entry{Path: top, Type: TypeDir, Mode: 0o755, MtimeNs: 1}, Entry{Path: dir, Type: TypeDir, Mode: 0o755, MtimeNs: 2})
		for f := range files / dirs {
			m = append(m, Entry{Path: fmt.Sprintf("%s/file%05d.go", dir, f), Type: TypeFile, Mode: 0o644, Size: int64(100 + f), MtimeNs: 3})
		}
	}
	m = dedupSorted(m)
	return m
}

// dedupSorted sorts m and drops repeated paths.
func dedupSorted(m Manifest) Manifest {
	m.Sort()
	out := m[:0]
	for i, e := range m {
		if i == 0 || e.Path != m[i-1].Path {
			out = append(out, e)
		}
	}
	return out
}

// BenchmarkDiff diffs a tree of 20,000 files in 1,000 directories against
// an empty one (an initial sync) and against itself (a no-op resync).
func BenchmarkDiff(b *testing.B) {
	local := benchTree(20000, 1000)
	for _, bc := range []struct {
		name   string
		remote Manifest
	}{
		{"initial", nil},
		{"unchanged", local},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Diff(local, bc.remote)
			}
		})
	}
}
