package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
)

// checkDir makes sure the directory to mirror exists and is one. The client
// never creates it: a mistyped -dir, or the default ./dirsync_from run from
// the wrong folder, would otherwise be an empty tree, and mirroring an empty
// tree deletes everything the server holds. given is how the directory was
// named, for the message.
func checkDir(dir, given string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--dir %s: no such directory (create it first, or pick the directory to mirror with --dir)", given)
	case err != nil:
		return fmt.Errorf("--dir %s: %w", given, err)
	case !info.IsDir():
		return fmt.Errorf("--dir %s: not a directory (pick the directory to mirror with --dir)", given)
	}
	return nil
}

// dirSet reports whether the directory was named by -dir or DIRSYNC_DIR
// rather than left to its default.
func dirSet(fset *flag.FlagSet) bool {
	set := envString("DIRSYNC_DIR", "") != ""
	fset.Visit(func(f *flag.Flag) {
		if f.Name == "dir" {
			set = true
		}
	})
	return set
}
