package e2e_test

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// linkSets returns the hard-link sets of the regular files under root,
// each as its paths in order joined by commas, in order.
func linkSets(t *testing.T, root string) []string {
	t.Helper()
	byInode := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Nlink > 1 {
			rel, _ := filepath.Rel(root, p)
			byInode[st.Ino] = append(byInode[st.Ino], filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for _, paths := range byInode {
		slices.Sort(paths)
		sets = append(sets, strings.Join(paths, ","))
	}
	slices.Sort(sets)
	return sets
}

// requireLinkSets fails the test unless dst has the hard-link sets of src.
func requireLinkSets(t *testing.T, src, dst string) {
	t.Helper()
	want, got := linkSets(t, src), linkSets(t, dst)
	if !slices.Equal(got, want) {
		t.Fatalf("hard-link sets on the server %q, want %q", got, want)
	}
}

// link makes newRel a hard link to oldRel under root.
func link(t *testing.T, root, oldRel, newRel string) {
	t.Helper()
	if err := os.Link(filepath.Join(root, oldRel), filepath.Join(root, newRel)); err != nil {
		t.Fatal(err)
	}
}

// appendTo appends data to the file rel under root and moves its mtime
// on, so that a pass sees the change whatever the clock's resolution.
func appendTo(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	name := filepath.Join(root, rel)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(name, later, later); err != nil {
		t.Fatal(err)
	}
}

// TestHardLinksMirrored checks that hard-link sets are mirrored as sets
// (rsync -H), their content sent once, and that editing through one link
// and deleting links, the primary included, are mirrored as they happen
// locally.
func TestHardLinksMirrored(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 3))
	src, dst := t.TempDir(), t.TempDir()
	for _, d := range []string{"d1", "d2"} {
		if err := os.Mkdir(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	big := randomBytes(r, 300<<10)
	writeFile(t, src, "a", big, 0o644)
	link(t, src, "a", "d1/b")
	link(t, src, "a", "d2/c")
	writeFile(t, src, "small", []byte("small linked file"), 0o600)
	link(t, src, "small", "d1/small2")
	writeFile(t, src, "single", []byte("not linked"), 0o644)

	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	requireLinkSets(t, src, dst)
	st := status(t, s)
	if want := int64(len(big) + len("small linked file") + len("not linked")); st.GetLiteralBytes() != want {
		t.Errorf("server received %d literal bytes, want %d: each set's content once", st.GetLiteralBytes(), want)
	}

	// A pass over an unchanged tree changes nothing.
	written := st.GetFilesWritten()
	out := syncOnce(t, src, s)
	if st := status(t, s); st.GetFilesWritten() != written || st.GetEntriesDeleted() != 0 {
		t.Errorf("a pass over an unchanged tree wrote %d files and deleted %d entries:\n%s",
			st.GetFilesWritten()-written, st.GetEntriesDeleted(), out)
	}

	// Editing through one link edits the set.
	appendTo(t, src, "d1/b", []byte("more"))
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	requireLinkSets(t, src, dst)

	// Deleting the primary leaves the rest linked; deleting a link of
	// a pair leaves a lone file.
	for _, rel := range []string{"a", "small"} {
		if err := os.Remove(filepath.Join(src, rel)); err != nil {
			t.Fatal(err)
		}
	}
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	requireLinkSets(t, src, dst)

	// A new link to a file the server has.
	link(t, src, "single", "d2/single2")
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	requireLinkSets(t, src, dst)

	// A link replaced by a copy with the same content and mtime is a
	// file of its own on the server too: a mode set on the other file
	// leaves it alone.
	unlinkCopy(t, src, "d2/c")
	syncOnce(t, src, s)
	requireLinkSets(t, src, dst)
	if err := os.Chmod(filepath.Join(src, "d1/b"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	requireLinkSets(t, src, dst)
}

// unlinkCopy replaces the file rel under root by a copy of it with the
// same content, mode and mtime, which shares no inode.
func unlinkCopy(t *testing.T, root, rel string) {
	t.Helper()
	name := filepath.Join(root, rel)
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, rel, data, info.Mode().Perm())
	if err := os.Chtimes(name, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// TestHardLinksWatch checks that watch mode mirrors an edit made through
// a secondary link to the whole set, and a new link.
func TestHardLinksWatch(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 4))
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "a", randomBytes(r, 64<<10), 0o644)
	link(t, src, "a", "z")
	s := startServer(t, dst)
	w := startWatch(t, src, s)
	waitLinked(t, src, dst, 30*time.Second)

	appendTo(t, src, "z", []byte("edited through the second link"))
	waitLinked(t, src, dst, 30*time.Second)

	link(t, src, "a", "y")
	waitLinked(t, src, dst, 30*time.Second)
	if out := w.output.String(); strings.Contains(out, "server copy drifted") {
		t.Errorf("the server's own links were reported as drift:\n%s", out)
	}
}

// waitLinked polls until dst mirrors src, link sets included, or fails
// after the timeout.
func waitLinked(t *testing.T, src, dst string, timeout time.Duration) {
	t.Helper()
	waitMirror(t, src, dst, timeout)
	deadline := time.Now().Add(timeout)
	for !slices.Equal(linkSets(t, src), linkSets(t, dst)) {
		if time.Now().After(deadline) {
			requireLinkSets(t, src, dst)
		}
		time.Sleep(50 * time.Millisecond)
	}
	requireMirror(t, src, dst)
}
