package engine

import "slices"

// ReduceScopes returns the smallest set of paths that covers paths: sorted
// by [ComparePaths], without duplicates, and without any path that lies
// under another one (see [IsWithin]). A "" in paths (the root) covers
// everything. paths is not modified.
//
// Work done once per requested path (a scan, a hash) must run over the
// reduced set: then a request naming one directory a thousand times, or a
// directory and everything below it, costs what the tree costs, not the
// product of the two.
func ReduceScopes(paths []string) []string {
	sorted := slices.Clone(paths)
	slices.SortFunc(sorted, ComparePaths)
	out := sorted[:0]
	for _, p := range sorted {
		if len(out) > 0 && IsWithin(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return slices.Clip(out)
}
