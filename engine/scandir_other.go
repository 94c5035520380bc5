//go:build !linux

package engine

import "os"

// openContainedRoot opens root, which may be reached through a symlink,
// as the first directory of a contained scan: here a [rootDir].
func openContainedRoot(root string) (scanDir, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return rootDir{r}, nil
}
