package e2e_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

func TestTreeShapesAndNames(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{
		"plain.txt",
		"with space.txt",
		"ünïcödé/日本語.txt",
		"emoji 🎉/file",
		"shell/$(rm -rf x)'\"`;|&<>*?[].txt",
		"shell/-leading-dash",
		"shell/#hash and %percent",
		"deep/a/b/c/d/e/f/g/h/leaf.bin",
		"empty-file",
		"dir with space/empty",
	}
	for i, n := range names {
		size := i * 1000
		if n == "empty-file" || n == "dir with space/empty" {
			size = 0
		}
		writeFile(t, src, n, randomBytes(r, size), 0o644)
	}
	for _, d := range []string{"empty-dir", "nested/empty/dirs", "ünïcödé/empty"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)

	// A second pass finds nothing to do and still reports a mirror.
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
}

func TestLargeFileDelta(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MiB file")
	}
	src, dst := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	const size = 100 << 20
	data := randomBytes(r, size)
	writeFile(t, src, "big.bin", data, 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	before := status(t, s)

	// 50 scattered 100-byte overwrites.
	for range 50 {
		off := r.IntN(size - 100)
		copy(data[off:], randomBytes(r, 100))
	}
	writeFile(t, src, "big.bin", data, 0o644)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	after := status(t, s)
	literal := after.GetLiteralBytes() - before.GetLiteralBytes()
	received := after.GetBytesReceived() - before.GetBytesReceived()
	saved := after.GetDeltaSavedBytes() - before.GetDeltaSavedBytes()
	t.Logf("overwrites: literal %d, received %d, saved by delta %d", literal, received, saved)
	if received > size/20 || literal > size/20 {
		t.Errorf("50 small edits of a %d-byte file sent %d literal bytes and %d request bytes; want far below the file size", size, literal, received)
	}
	if saved < size*9/10 {
		t.Errorf("delta saved %d bytes, want most of %d", saved, size)
	}

	// Insert bytes near the start: everything after shifts, and still matches.
	data = append(append(append([]byte{}, data[:1000]...), []byte("inserted!")...), data[1000:]...)
	writeFile(t, src, "big.bin", data, 0o644)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	final := status(t, s)
	literal = final.GetLiteralBytes() - after.GetLiteralBytes()
	t.Logf("insertion: literal %d", literal)
	if literal > 2<<20 {
		t.Errorf("a 9-byte insertion sent %d literal bytes; the shifted data should match", literal)
	}
}

func TestDeduplication(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	content := randomBytes(r, 3<<20)
	writeFile(t, src, "original.bin", content, 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	before := status(t, s)

	writeFile(t, src, "copies/same-content.bin", content, 0o600)
	if err := os.Rename(filepath.Join(src, "original.bin"), filepath.Join(src, "moved.bin")); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	after := status(t, s)
	if lit := after.GetLiteralBytes() - before.GetLiteralBytes(); lit != 0 {
		t.Errorf("copy and move of known content sent %d literal bytes, want 0", lit)
	}
	if saved := after.GetDedupSavedBytes() - before.GetDedupSavedBytes(); saved < 2*int64(len(content)) {
		t.Errorf("dedup saved %d bytes, want at least %d", saved, 2*len(content))
	}
}

func TestStructureChanges(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		writeFile(t, src, fmt.Sprintf("big-dir/sub%d/file%d.txt", i%10, i), randomBytes(r, 2000+i), 0o644)
	}
	writeFile(t, src, "becomes-dir", []byte("I am a file"), 0o644)
	writeFile(t, src, "becomes-file/child.txt", []byte("I am inside a dir"), 0o644)
	writeFile(t, src, "deep/1/2/3/4/5/6/7/8/leaf.txt", []byte("deep"), 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	before := status(t, s)

	if err := os.Rename(filepath.Join(src, "big-dir"), filepath.Join(src, "renamed-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "becomes-dir")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "becomes-dir/now-inside.txt", []byte("now a dir"), 0o644)
	if err := os.RemoveAll(filepath.Join(src, "becomes-file")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "becomes-file", []byte("now a file"), 0o644)
	if err := os.RemoveAll(filepath.Join(src, "deep")); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	after := status(t, s)
	// The renamed directory's 300 files were already on the server.
	if lit := after.GetLiteralBytes() - before.GetLiteralBytes(); lit > 100 {
		t.Errorf("renaming a directory sent %d literal bytes; its files should be copied on the server", lit)
	}
}

func TestSymlinks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	outside := t.TempDir()
	writeFile(t, outside, "secret.txt", []byte("outside the root"), 0o644)
	writeFile(t, src, "real/file.txt", []byte("hello"), 0o644)
	links := map[string]string{
		"relative-link":      "real/file.txt",
		"relative-dir-link":  "real",
		"absolute-link":      filepath.Join(outside, "secret.txt"),
		"absolute-dir-link":  outside,
		"dangling-link":      "does/not/exist",
		"real/parent-link":   "..",
		"loop-a":             "loop-b",
		"loop-b":             "loop-a",
		"weird name link ✓":  "with space target",
		"real/link-to-slash": "/",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)

	// Retarget one link and turn another into a file.
	if err := os.Remove(filepath.Join(src, "relative-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("elsewhere", filepath.Join(src, "relative-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "absolute-dir-link")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "absolute-dir-link", []byte("a file now"), 0o644)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	// Nothing outside was touched through the links.
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 1 {
		t.Fatalf("outside dir changed: %v %v", entries, err)
	}
}

func TestMetadata(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "script.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	writeFile(t, src, "private.txt", []byte("secret"), 0o600)
	writeFile(t, src, "to-truncate.txt", bytes.Repeat([]byte("x"), 100000), 0o644)
	if err := os.Mkdir(filepath.Join(src, "locked-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "private.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dst)
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	before := status(t, s)

	// A chmod-only change sends no content.
	if err := os.Chmod(filepath.Join(src, "private.txt"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "script.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(src, "to-truncate.txt"), 0); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, src, s)
	requireMirror(t, src, dst)
	after := status(t, s)
	if lit := after.GetLiteralBytes() - before.GetLiteralBytes(); lit != 0 {
		t.Errorf("chmod and truncation sent %d literal bytes, want 0", lit)
	}
}

func TestOnceExitCodes(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "a.txt", []byte("a"), 0o644)
	s := startServer(t, dst)
	if code, out := runOnce(t, src, s, "--dry-run"); code != 0 {
		t.Fatalf("--dry-run exited %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dst, "a.txt")); err == nil {
		t.Fatal("--dry-run changed the server's tree")
	}
	if code, out := runOnce(t, src, s, "--block-size", "7"); code != 2 {
		t.Errorf("--block-size 7 exited %d, want 2 (usage):\n%s", code, out)
	}
	s.stop(t)
	if code, out := runOnce(t, src, s); code != 3 {
		t.Errorf("--once against a stopped server exited %d, want 3:\n%s", code, out)
	}
}

// TestDurabilityModes syncs new files, then replaces them, with the
// server's default durability (new names renamed at once, replacements
// fsynced first) and with --sync-new-files (everything fsynced first):
// both must mirror the tree, metadata included, and Status must tell
// which mode runs and whether the new files waited for a sync.
func TestDurabilityModes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		syncNew        bool
		newFilesSynced bool // whether the first, all-new pass waits for syncs
	}{
		{name: "default"},
		{name: "sync new files", args: []string{"--sync-new-files"}, syncNew: true, newFilesSynced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			r := rand.New(rand.NewPCG(3, 4))
			for i := range 300 {
				writeFile(t, src, fmt.Sprintf("d%02d/f%03d", i%17, i), randomBytes(r, 50+i*97), 0o644)
			}
			writeFile(t, src, "big.bin", randomBytes(r, 9<<20), 0o600)
			s := startServer(t, dst, tc.args...)
			syncOnce(t, src, s)
			requireMirror(t, src, dst)
			st := status(t, s)
			if st.GetSyncNewFiles() != tc.syncNew || (st.GetDurableSyncs() > 0) != tc.newFilesSynced {
				t.Errorf("after new files: sync_new_files %v, durable_syncs %d; want %v, some: %v",
					st.GetSyncNewFiles(), st.GetDurableSyncs(), tc.syncNew, tc.newFilesSynced)
			}
			before := st.GetDurableSyncs()

			// Every file again, changed: now each replaces one.
			for i := range 300 {
				writeFile(t, src, fmt.Sprintf("d%02d/f%03d", i%17, i), randomBytes(r, 60+i*89), 0o640)
			}
			writeFile(t, src, "big.bin", randomBytes(r, 9<<20), 0o644)
			syncOnce(t, src, s)
			requireMirror(t, src, dst)
			if after := status(t, s).GetDurableSyncs(); after <= before {
				t.Errorf("replacing files waited for no sync: durable_syncs %d, then %d", before, after)
			}
		})
	}
}
