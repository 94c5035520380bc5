package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestDirBatches(t *testing.T) {
	job := func(path string, size int64) *uploadJob {
		return &uploadJob{local: engine.Entry{Path: path, Type: engine.TypeFile, Size: size}}
	}
	many := func(dir string, n int, size int64) []*uploadJob {
		var out []*uploadJob
		for i := range n {
			out = append(out, job(fmt.Sprintf("%s/f%03d", dir, i), size))
		}
		return out
	}
	tests := []struct {
		name string
		jobs []*uploadJob
		want []int // batch lengths
	}{
		{"none", nil, nil},
		{"one file", []*uploadJob{job("f", 1)}, []int{1}},
		{"one batch per directory", append(append(many("a", 3, 10), job("a/b/x", 10)), many("c", 2, 10)...), []int{3, 1, 2}},
		{"the root is a directory too", []*uploadJob{job("x", 1), job("y", 1), job("d/z", 1)}, []int{2, 1}},
		{"a large directory is split by count", many("big", 2*batchFiles+1, 10), []int{batchFiles, batchFiles, 1}},
		{"a directory of large files is split by size", many("d", 5, batchBytes/2), []int{2, 2, 1}},
		{"a file over the size bound goes alone", []*uploadJob{job("d/huge", 3*batchBytes), job("d/next", 1)}, []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches := dirBatches(tt.jobs)
			var got []int
			var flat []*uploadJob
			for _, b := range batches {
				got = append(got, len(b))
				flat = append(flat, b...)
				for _, j := range b {
					if engine.ParentPath(j.local.Path) != engine.ParentPath(b[0].local.Path) {
						t.Errorf("batch mixes %q and %q", b[0].local.Path, j.local.Path)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("batches of %v, want %v", got, tt.want)
			}
			if !slices.Equal(flat, tt.jobs) {
				t.Error("batches do not hold every job once, in order")
			}
		})
	}
}
