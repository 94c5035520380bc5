package client

import (
	"slices"

	"github.com/dirsync/dirsync/engine"
)

// reduceScopes returns the smallest set of paths that covers paths: sorted
// by [engine.ComparePaths], without duplicates, and without any path that
// lies under another one. A "" in paths (the root) covers everything.
func reduceScopes(paths []string) []string {
	sorted := slices.Clone(paths)
	slices.SortFunc(sorted, engine.ComparePaths)
	out := sorted[:0]
	for _, p := range sorted {
		if len(out) > 0 && engine.IsWithin(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return slices.Clip(out)
}
