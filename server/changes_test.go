package server

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// change helpers build one Change of each kind.
func deleteChange(rel string) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_Delete{Delete: rel}}
}

func mkdirChange(rel string, mode uint32) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: &dirsyncv1.Entry{
		Path: rel, Type: dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY, Mode: mode}}}
}

func symlinkChange(rel, target string) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_Symlink{Symlink: &dirsyncv1.Entry{
		Path: rel, Type: dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK, LinkTarget: target}}}
}

func metaChange(rel string, mode uint32, mtime time.Time) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_SetMetadata{SetMetadata: &dirsyncv1.Entry{
		Path: rel, Mode: mode, MtimeNs: mtime.UnixNano()}}}
}

func copyChange(e *dirsyncv1.Entry) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_CopyContent{CopyContent: e}}
}

func TestApplyChanges(t *testing.T) {
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 600, time.UTC)
	content := randomBytes(10000, 7)
	var sameBefore os.FileInfo // the file "same" before its copy_content
	cases := []struct {
		name    string
		setup   func(t *testing.T, root string)
		changes []*dirsyncv1.Change
		codes   []connect.Code
		saved   []int64
		check   func(t *testing.T, env *testEnv)
	}{
		{
			name:    "copy content hit and miss",
			setup:   func(t *testing.T, root string) { writeFile(t, root, "src/a", content) },
			changes: []*dirsyncv1.Change{copyChange(fileEntry("dst/b", content, 0o600, mtime)), copyChange(fileEntry("c", []byte("unknown"), 0o644, mtime))},
			codes:   []connect.Code{0, connect.CodeNotFound},
			saved:   []int64{int64(len(content)), 0},
			check: func(t *testing.T, env *testEnv) {
				if got := readFile(t, env.root, "dst/b"); !bytes.Equal(got, content) {
					t.Errorf("dst/b differs")
				}
				info, err := os.Stat(filepath.Join(env.root, "dst/b"))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o600 || !info.ModTime().Equal(mtime) {
					t.Errorf("dst/b: mode %v mtime %v", info.Mode(), info.ModTime())
				}
				if _, err := os.Lstat(filepath.Join(env.root, "c")); err == nil {
					t.Errorf("c was created")
				}
			},
		},
		{
			name: "copy content onto the file that holds it sets only metadata",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "same", content)
				var err error
				if sameBefore, err = os.Stat(filepath.Join(root, "same")); err != nil {
					t.Fatal(err)
				}
			},
			changes: []*dirsyncv1.Change{copyChange(fileEntry("same", content, 0o640, mtime))},
			codes:   []connect.Code{0},
			saved:   []int64{int64(len(content))},
			check: func(t *testing.T, env *testEnv) {
				if got := readFile(t, env.root, "same"); !bytes.Equal(got, content) {
					t.Errorf("same differs")
				}
				info, err := os.Stat(filepath.Join(env.root, "same"))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o640 || !info.ModTime().Equal(mtime) {
					t.Errorf("same: mode %v mtime %v, want 0640 %v", info.Mode(), info.ModTime(), mtime)
				}
				if !os.SameFile(info, sameBefore) {
					t.Errorf("same was rewritten; only its metadata should change")
				}
				assertNoTempFiles(t, env.root)
			},
		},
		{
			name: "copy content from a changed source",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "src", content)
			},
			changes: []*dirsyncv1.Change{copyChange(fileEntry("dst", content, 0o644, mtime))},
			codes:   []connect.Code{connect.CodeNotFound},
			check:   nil, // the source is changed behind the index by the test body
		},
		{
			name: "delete symlink keeps target",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "target/f", []byte("keep"))
				os.Symlink("target", filepath.Join(root, "link"))
			},
			changes: []*dirsyncv1.Change{deleteChange("link"), deleteChange("missing/x")},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, env *testEnv) {
				if _, err := os.Lstat(filepath.Join(env.root, "link")); err == nil {
					t.Errorf("link still there")
				}
				if got := readFile(t, env.root, "target/f"); string(got) != "keep" {
					t.Errorf("target/f = %q", got)
				}
			},
		},
		{
			name:    "delete directory tree",
			setup:   func(t *testing.T, root string) { writeFile(t, root, "d/e/f", []byte("x")) },
			changes: []*dirsyncv1.Change{deleteChange("d")},
			codes:   []connect.Code{0},
			check: func(t *testing.T, env *testEnv) {
				if _, err := os.Lstat(filepath.Join(env.root, "d")); err == nil {
					t.Errorf("d still there")
				}
				if _, ok := env.srv.index.get("d/e/f"); ok {
					t.Errorf("index still holds d/e/f")
				}
			},
		},
		{
			name: "file to directory and directory to symlink",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "f", []byte("x"))
				writeFile(t, root, "d/e/f", []byte("y"))
			},
			changes: []*dirsyncv1.Change{mkdirChange("f", 0o750), symlinkChange("d", "/absolute/../dangling"), mkdirChange("new/deep", 0o700)},
			codes:   []connect.Code{0, 0, 0},
			check: func(t *testing.T, env *testEnv) {
				info, err := os.Lstat(filepath.Join(env.root, "f"))
				if err != nil || !info.IsDir() || info.Mode().Perm() != 0o750 {
					t.Errorf("f: %v, %v", info, err)
				}
				target, err := os.Readlink(filepath.Join(env.root, "d"))
				if err != nil || target != "/absolute/../dangling" {
					t.Errorf("d: link to %q, %v", target, err)
				}
				if info, err := os.Lstat(filepath.Join(env.root, "new/deep")); err != nil || info.Mode().Perm() != 0o700 {
					t.Errorf("new/deep: %v, %v", info, err)
				}
			},
		},
		{
			name: "set metadata skips symlinks",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "f", []byte("x"))
				writeFile(t, root, "t", []byte("y"))
				os.Symlink("t", filepath.Join(root, "l"))
			},
			changes: []*dirsyncv1.Change{metaChange("f", 0o604, mtime), metaChange("l", 0o600, mtime), metaChange("missing", 0o600, mtime)},
			codes:   []connect.Code{0, 0, connect.CodeNotFound},
			check: func(t *testing.T, env *testEnv) {
				info, _ := os.Stat(filepath.Join(env.root, "f"))
				if info.Mode().Perm() != 0o604 || !info.ModTime().Equal(mtime) {
					t.Errorf("f: mode %v mtime %v", info.Mode(), info.ModTime())
				}
				info, _ = os.Stat(filepath.Join(env.root, "t"))
				if info.Mode().Perm() != 0o644 || info.ModTime().Equal(mtime) {
					t.Errorf("symlink target t changed: mode %v mtime %v", info.Mode(), info.ModTime())
				}
				c, ok := env.srv.index.get("f")
				if !ok || c.mtimeNs != mtime.UnixNano() {
					t.Errorf("index entry of f not moved to the new mtime")
				}
			},
		},
		{
			name:    "bad entries",
			changes: []*dirsyncv1.Change{mkdirChange("m", 0o10000), symlinkChange("s", ""), {}, copyChange(&dirsyncv1.Entry{Path: "x", Sha256: []byte{1}})},
			codes:   []connect.Code{connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range protocols {
				t.Run(p.name, func(t *testing.T) {
					root := t.TempDir()
					if tc.setup != nil {
						tc.setup(t, root)
					}
					env := newEnv(t, root, p)
					if tc.name == "copy content from a changed source" {
						// Same size and mtime kept, so only the copy's
						// own verification can notice.
						p := filepath.Join(root, "src")
						info, _ := os.Stat(p)
						os.WriteFile(p, randomBytes(len(content), 8), 0o644)
						os.Chtimes(p, info.ModTime(), info.ModTime())
					}
					results := env.applyChanges(t, tc.changes...)
					for i, r := range results {
						if got, want := codeName(r.GetCode()), codeName(uint32(tc.codes[i])); got != want {
							t.Errorf("change %d (%q): code %s, want %s (%s)", i, r.GetPath(), got, want, r.GetMessage())
						}
						if tc.saved != nil && r.GetSavedBytes() != tc.saved[i] {
							t.Errorf("change %d: saved %d, want %d", i, r.GetSavedBytes(), tc.saved[i])
						}
					}
					if tc.check != nil {
						tc.check(t, env)
					}
					assertNoTempFiles(t, root)
				})
			}
		})
	}
}

func TestApplyChangesTooMany(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		changes := make([]*dirsyncv1.Change, maxChangesPerRequest+1)
		for i := range changes {
			changes[i] = deleteChange("x")
		}
		_, err := env.client.ApplyChanges(testCtx(t), connect.NewRequest(&dirsyncv1.ApplyChangesRequest{Changes: changes}))
		if got := connect.CodeOf(err); got != connect.CodeInvalidArgument {
			t.Errorf("code %v, want InvalidArgument", got)
		}
	})
}

// TestContentIndexSurvivesRestart checks that a new Server over the same
// root can copy content an earlier one wrote.
func TestContentIndexSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	data := randomBytes(4096, 3)
	env := newEnv(t, root, protocols[0])
	if r := env.uploadOne(t, literalUpload(fileEntry("orig", data, 0o644, time.Now()), data)...); r.GetCode() != 0 {
		t.Fatalf("upload: %s", r.GetMessage())
	}
	env.srv.Close()

	env = newEnv(t, root, protocols[1])
	res := env.applyChanges(t, copyChange(fileEntry("copy", data, 0o644, time.Now())))
	if res[0].GetCode() != 0 || res[0].GetSavedBytes() != int64(len(data)) {
		t.Fatalf("copy_content after restart: code %s saved %d (%s)", codeName(res[0].GetCode()), res[0].GetSavedBytes(), res[0].GetMessage())
	}
	if got := readFile(t, root, "copy"); !bytes.Equal(got, data) {
		t.Errorf("copy differs")
	}
	sum := sha256.Sum256(data)
	if paths := env.srv.index.holders(sum, 100); len(paths) != 2 {
		t.Errorf("holders = %q, want orig and copy", paths)
	}
}

// TestStaleTempFilesRemoved checks that New removes leftover temporary
// files anywhere under the root and never lists them.
func TestStaleTempFilesRemoved(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".dirsync-tmp-0123", []byte("partial"))
	writeFile(t, root, "d/e/.dirsync-tmp-abcd", []byte("partial"))
	writeFile(t, root, "d/keep", []byte("keep"))
	env := newEnv(t, root, protocols[0])
	assertNoTempFiles(t, root)
	if got := readFile(t, root, "d/keep"); string(got) != "keep" {
		t.Errorf("d/keep = %q", got)
	}
	// One appearing later is not listed either.
	writeFile(t, root, "d/.dirsync-tmp-late", []byte("x"))
	entries, _, err := env.manifest(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if isTempName(filepath.Base(e.GetPath())) {
			t.Errorf("manifest lists %q", e.GetPath())
		}
	}
}

// TestSymlinkDurability checks that a symlink at a free name is made in
// place without a sync, like a new file, unless SyncNewFiles asks for one,
// and that one replacing an entry is renamed over it and synced.
func TestSymlinkDurability(t *testing.T) {
	cases := []struct {
		name      string
		existing  string // "", "file", "other" (a symlink to elsewhere) or "same"
		syncNew   bool
		wantSyncs int64
	}{
		{name: "new", wantSyncs: 0},
		{name: "new with SyncNewFiles", syncNew: true, wantSyncs: 1},
		{name: "new in a new directory", wantSyncs: 0},
		{name: "replaces a file", existing: "file", wantSyncs: 1},
		{name: "replaces another symlink", existing: "other", wantSyncs: 1},
		{name: "already there", existing: "same", wantSyncs: 0},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			rel := "d/link"
			if tt.name == "new in a new directory" {
				rel = "new/deep/link" // the server makes new and new/deep
			} else if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, filepath.FromSlash(rel))
			switch tt.existing {
			case "file":
				writeFile(t, root, rel, []byte("old"))
			case "other", "same":
				target := "elsewhere"
				if tt.existing == "same" {
					target = "../target"
				}
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			}
			env := newEnvOpts(t, root, protocols[0], Options{SyncNewFiles: tt.syncNew})
			if r := env.applyChanges(t, symlinkChange(rel, "../target")); r[0].GetCode() != 0 {
				t.Fatalf("symlink: %s %q", codeName(r[0].GetCode()), r[0].GetMessage())
			}
			if got, err := os.Readlink(p); err != nil || got != "../target" {
				t.Errorf("%s -> %q, %v; want ../target", rel, got, err)
			}
			assertNoTempFiles(t, root)
			if got := env.srv.stats.durableSyncs.Load(); got != tt.wantSyncs {
				t.Errorf("%d syncs waited for, want %d", got, tt.wantSyncs)
			}
		})
	}
}
