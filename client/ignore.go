package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gitignore "github.com/sabhiram/go-gitignore"

	"github.com/dirsync/dirsync/engine"
)

// IgnoreFile is the name of the ignore file read from the root of the
// synced directory. It holds gitignore patterns, one per line.
const IgnoreFile = ".dirsyncignore"

// maxIgnoreFileSize bounds the ignore file read into memory.
const maxIgnoreFileSize = 1 << 20

// ignoreRules decides which paths a pass leaves out. A nil *ignoreRules
// ignores nothing. It is immutable, hence safe for concurrent use.
type ignoreRules struct {
	gi *gitignore.GitIgnore
	// text is the ignore file's content it was built from, to tell
	// whether a reload changes anything.
	text string
	// skip are directories left out whatever the patterns say: the
	// server's root when it lies inside the directory (see
	// [Client.checkOverlap]).
	skip []string
}

// withSkip returns r, or empty rules if r is nil, with the directories
// skip left out too.
func (r *ignoreRules) withSkip(skip []string) *ignoreRules {
	var out ignoreRules
	if r != nil {
		out = *r
	}
	out.skip = skip
	return &out
}

// newIgnoreRules compiles the patterns of the ignore file text and the
// extra patterns excludes, both in gitignore syntax. It returns nil when
// there are no patterns at all.
func newIgnoreRules(text string, excludes []string) *ignoreRules {
	lines := append(strings.Split(text, "\n"), excludes...)
	any := false
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			any = true
			break
		}
	}
	if !any {
		return &ignoreRules{text: text}
	}
	return &ignoreRules{gi: gitignore.CompileIgnoreLines(lines...), text: text}
}

// match reports whether the slash-separated relative path rel is ignored.
// isDir tells whether rel is a directory, which patterns ending in a slash
// require.
func (r *ignoreRules) match(rel string, isDir bool) bool {
	if r == nil || rel == "" {
		return false
	}
	for _, d := range r.skip {
		if engine.IsWithin(rel, d) {
			return true
		}
	}
	if r.gi == nil {
		return false
	}
	if isDir {
		return r.gi.MatchesPath(rel + "/")
	}
	return r.gi.MatchesPath(rel)
}

// readIgnoreFile returns the content of the ignore file under root, or ""
// when there is none. A symlink or another non-regular file in its place
// is not followed and counts as none.
func readIgnoreFile(root string) (string, error) {
	name := filepath.Join(root, IgnoreFile)
	info, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read ignore file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", nil
	}
	if info.Size() > maxIgnoreFileSize {
		return "", fmt.Errorf("read ignore file: %d bytes, more than %d", info.Size(), maxIgnoreFileSize)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read ignore file: %w", err)
	}
	return string(b), nil
}

// filter returns m without the entries that r ignores, nor anything under
// an ignored directory. Applied to the server's manifest, it keeps a pass
// from deleting ignored paths on the server, as rsync protects excluded
// files: an ignore rule means "leave alone", on both sides.
func (r *ignoreRules) filter(m engine.Manifest) engine.Manifest {
	if r == nil || r.gi == nil && len(r.skip) == 0 {
		return m
	}
	out := make(engine.Manifest, 0, len(m))
	var ignoredDir string
	for _, e := range m {
		if ignoredDir != "" && engine.IsWithin(e.Path, ignoredDir) {
			continue
		}
		if r.match(e.Path, e.Type == engine.TypeDir) {
			if e.Type == engine.TypeDir {
				ignoredDir = e.Path
			}
			continue
		}
		out = append(out, e)
	}
	return out
}
