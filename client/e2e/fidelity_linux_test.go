package e2e_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fidelityEntry is what the fidelity test compares of one item, read
// with lstat: everything rsync -a keeps that dirsync mirrors.
type fidelityEntry struct {
	mode    uint32 // type and permission bits, st_mode
	rdev    uint64 // device numbers
	mtimeNs int64
	content []byte
	target  string
	// ino and nlink say which regular files share an inode; blocks is
	// the bytes allocated, st_blocks, which holes leave out.
	ino, nlink uint64
	blocks     int64
}

// readFidelityTree reads the root directory itself (as ".") and every item
// below it, names as raw bytes, never following a symlink or opening a
// named pipe.
func readFidelityTree(t *testing.T, root string) map[string]fidelityEntry {
	t.Helper()
	tree := map[string]fidelityEntry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		e := fidelityEntry{mode: st.Mode, rdev: st.Rdev, mtimeNs: st.Mtim.Nano(),
			ino: st.Ino, nlink: uint64(st.Nlink), blocks: st.Blocks * 512}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			e.content, err = os.ReadFile(path)
		case unix.S_IFLNK:
			e.target, err = os.Readlink(path)
		}
		tree[filepath.ToSlash(rel)] = e
		return err
	})
	if err != nil {
		t.Fatalf("read tree %s: %v", root, err)
	}
	return tree
}

// diffFidelity lists how got differs from want, item by item.
func diffFidelity(want, got map[string]fidelityEntry) []string {
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%q: missing", p))
		case g.mode != w.mode:
			diffs = append(diffs, fmt.Sprintf("%q: mode %#o, want %#o", p, g.mode, w.mode))
		case g.rdev != w.rdev:
			diffs = append(diffs, fmt.Sprintf("%q: device %#x, want %#x", p, g.rdev, w.rdev))
		case !bytes.Equal(g.content, w.content):
			diffs = append(diffs, fmt.Sprintf("%q: content differs", p))
		case g.target != w.target:
			diffs = append(diffs, fmt.Sprintf("%q: link target %q, want %q", p, g.target, w.target))
		case g.mtimeNs != w.mtimeNs:
			diffs = append(diffs, fmt.Sprintf("%q: mtime %v, want %v", p, time.Unix(0, g.mtimeNs).UTC(), time.Unix(0, w.mtimeNs).UTC()))
		case g.mode&unix.S_IFMT == unix.S_IFREG && (g.blocks > w.blocks+sparseSlack || g.blocks < w.blocks-sparseSlack):
			diffs = append(diffs, fmt.Sprintf("%q: %d bytes allocated, want %d within %d", p, g.blocks, w.blocks, sparseSlack))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: extraneous", p))
		}
	}
	wantSets, gotSets := inodeSets(want), inodeSets(got)
	for _, w := range wantSets {
		if !slices.ContainsFunc(gotSets, func(g []string) bool { return slices.Equal(g, w) }) {
			diffs = append(diffs, fmt.Sprintf("hard links %q: not one inode", w))
		}
	}
	for _, g := range gotSets {
		if !slices.ContainsFunc(wantSets, func(w []string) bool { return slices.Equal(g, w) }) {
			diffs = append(diffs, fmt.Sprintf("hard links %q: one inode, want apart", g))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// inodeSets returns the regular files of tree that share an inode, each
// set in path order, the sets in the order of their first paths.
func inodeSets(tree map[string]fidelityEntry) [][]string {
	byIno := map[uint64][]string{}
	for p, e := range tree {
		if e.mode&unix.S_IFMT == unix.S_IFREG && e.nlink > 1 {
			byIno[e.ino] = append(byIno[e.ino], p)
		}
	}
	var sets [][]string
	for _, set := range byIno {
		if len(set) > 1 {
			slices.Sort(set)
			sets = append(sets, set)
		}
	}
	slices.SortFunc(sets, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return sets
}

// setLinkTimes sets the mtime of the symlink rel of root itself.
func setLinkTimes(t *testing.T, root, rel string, mtime time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("lutimes %q: %v", rel, err)
	}
}

// rsyncPath finds rsync, installing it with apt-get when the test runs as
// root and it is missing, or skips the test.
func rsyncPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("rsync"); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			if out, err := exec.Command("apt-get", "install", "-y", "rsync").CombinedOutput(); err != nil {
				t.Logf("apt-get install rsync: %v\n%s", err, out)
			}
		}
	}
	p, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync is not installed and could not be installed: the fidelity test compares with it")
	}
	return p
}

// TestFidelityAgainstRsync mirrors a tree of every name Linux allows
// (a backslash, Latin-1 bytes), symlinks with their own mtimes (one with
// a target that is not UTF-8), named pipes, hard-link sets (one whose
// primary's name is not UTF-8), a sparse file, and a root with its own
// mode and mtime, and compares the server's tree, root included, with what
// rsync -aHSX --numeric-ids makes of the same source.
func TestFidelityAgainstRsync(t *testing.T) {
	rsync := rsyncPath(t)
	base := t.TempDir()
	src, dst, ref := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "ref")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2011, 4, 5, 6, 7, 8, 123456789, time.UTC)
	at := func(i int) time.Time { return old.Add(time.Duration(i) * time.Hour) }
	files := []string{
		"plain.txt",
		`back\slash.txt`,
		"caf\xe9.txt",              // Latin-1
		"r\xe9pertoire/f\xfcr.dat", // Latin-1 directory and file
		`win\dir/inner\name.txt`,   // backslashes all the way
		"deep/\xff\xfe/\x80name",   // bytes that are no UTF-8 at all
		"utf8/répertoire/日本語.txt",  // valid UTF-8 still travels as text
	}
	for i, f := range files {
		writeFile(t, src, f, []byte(fmt.Sprintf("content %d of %q\n", i, f)), 0o640)
		if err := os.Chtimes(filepath.Join(src, f), at(i), at(i)); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"link": "plain.txt", "r\xe9pertoire/lien": "f\xfcr.dat", "dangling\xe9": "cible\xe9/nowhere"}
	i := len(files)
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(src, l)); err != nil {
			t.Fatal(err)
		}
		setLinkTimes(t, src, l, at(i))
		i++
	}
	// Hard-link sets: the first in path order, the primary the others
	// name, is Latin-1, so its name travels as raw bytes; and a set of
	// two in one directory.
	linkSetsSrc := [][]string{
		{"caf\xe9-dur", "hard/deux", "r\xe9pertoire/trois\xe9"},
		{"hard/a", "hard/b"},
	}
	for _, set := range linkSetsSrc {
		writeFile(t, src, set[0], []byte(fmt.Sprintf("shared by %q\n", set)), 0o604)
		for _, l := range set[1:] {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(src, l)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(filepath.Join(src, set[0]), filepath.Join(src, l)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(filepath.Join(src, set[0]), at(i), at(i)); err != nil {
			t.Fatal(err)
		}
		i++
	}
	// A sparse file: holes at the start, between its extents and at its
	// end, which rsync -S keeps.
	writeSparse(t, src, "sparse.img", 8<<20, []int64{1 << 20, 5 << 20}, rand.New(rand.NewPCG(fidelitySeed(t), 0)))
	if err := os.Chtimes(filepath.Join(src, "sparse.img"), at(i), at(i)); err != nil {
		t.Fatal(err)
	}
	i++
	for _, p := range []string{"pipe", `win\dir/pipe\x`, "r\xe9pertoire/tube\xe9"} {
		if err := unix.Mkfifo(filepath.Join(src, p), 0o620); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(src, p), 0o620); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(src, p), at(i), at(i)); err != nil {
			t.Fatal(err)
		}
		i++
	}
	// Devices where the test may make them: the server then runs as root
	// too, and is told to make them.
	var serverArgs []string
	if os.Geteuid() == 0 {
		serverArgs = append(serverArgs, "--allow-devices")
		for _, d := range []struct {
			name         string
			typ          uint32
			major, minor uint32
		}{{"deep/null", unix.S_IFCHR, 1, 3}, {"blk\xe9", unix.S_IFBLK, 7, 200}} {
			if err := unix.Mknod(filepath.Join(src, d.name), d.typ|0o600, int(unix.Mkdev(d.major, d.minor))); err != nil {
				t.Fatalf("mknod %q: %v", d.name, err)
			}
			if err := os.Chtimes(filepath.Join(src, d.name), at(i), at(i)); err != nil {
				t.Fatal(err)
			}
			i++
		}
	} else {
		t.Log("not root: no devices in the tree")
	}
	// Directories last, deepest first, so their mtimes stay; the root too.
	dirs := []string{"deep/\xff\xfe", "deep", "utf8/répertoire", "utf8", `win\dir`, "r\xe9pertoire", "hard"}
	for _, d := range dirs {
		if err := os.Chmod(filepath.Join(src, d), 0o751); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(src, d), at(i), at(i)); err != nil {
			t.Fatal(err)
		}
		i++
	}
	if err := os.Chmod(src, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(src, at(i), at(i)); err != nil {
		t.Fatal(err)
	}

	if out, err := exec.Command(rsync, "-aHSX", "--numeric-ids", src+"/", ref+"/").CombinedOutput(); err != nil {
		t.Fatalf("rsync -aHSX --numeric-ids: %v\n%s", err, out)
	}
	s := startServer(t, dst, serverArgs...)
	out := syncOnce(t, src, s)
	if strings.Contains(out, "skipped") && !strings.Contains(out, "skipped 0") {
		t.Errorf("client skipped items:\n%s", out)
	}
	want, got := readFidelityTree(t, ref), readFidelityTree(t, dst)
	if sets := inodeSets(want); len(sets) != len(linkSetsSrc) {
		t.Fatalf("rsync -H made link sets %q, want %q", sets, linkSetsSrc)
	}
	if w := want["sparse.img"]; w.blocks >= 4<<20 {
		t.Fatalf("rsync -S allocated %d bytes for sparse.img, which holds 512 KiB of data", w.blocks)
	}
	if diffs := diffFidelity(want, got); len(diffs) > 0 {
		t.Fatalf("server tree differs from rsync's:\n%s\nclient:\n%s", strings.Join(diffs, "\n"), out)
	}
	// The source itself is unchanged by either copy, and rsync's copy
	// is exact: the comparison above means something.
	if diffs := diffFidelity(readFidelityTree(t, src), want); len(diffs) > 0 {
		t.Fatalf("rsync's copy differs from the source:\n%s", strings.Join(diffs, "\n"))
	}

	// A second pass finds nothing to do and keeps the tree as it is.
	syncOnce(t, src, s)
	if diffs := diffFidelity(want, readFidelityTree(t, dst)); len(diffs) > 0 {
		t.Fatalf("after a second pass, server tree differs from rsync's:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestDevicesRefused checks that a server without --allow-devices refuses
// a device with FailedPrecondition naming it, and that the client reports
// it as not mirrored and mirrors the rest.
func TestDevicesRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a device needs root")
	}
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "ok.txt", []byte("ok"), 0o644)
	if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dst)
	code, out := runOnce(t, src, s)
	if code != exitNotMirrored || !strings.Contains(out, `failed  "null"`) || !strings.Contains(out, "failed_precondition") {
		t.Errorf("--once with a device the server refuses exited %d, want %d naming it:\n%s", code, exitNotMirrored, out)
	}
	if _, err := os.Lstat(filepath.Join(dst, "null")); !os.IsNotExist(err) {
		t.Errorf("server made the device: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "ok.txt")); err != nil || string(got) != "ok" {
		t.Errorf("ok.txt on the server = %q, %v", got, err)
	}
}

// fidelitySeed returns the seed of the fidelity test's random content:
// DIRSYNC_FIDELITY_SEED when set, else a fixed one.
func fidelitySeed(t *testing.T) uint64 {
	t.Helper()
	v := os.Getenv("DIRSYNC_FIDELITY_SEED")
	if v == "" {
		return 16
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("DIRSYNC_FIDELITY_SEED=%q: %v", v, err)
	}
	return seed
}
