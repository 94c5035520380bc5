//go:build linux

package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sys/unix"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

func fifoChange(rel string, mode uint32, mtime time.Time) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: &dirsyncv1.Entry{
		Path: rel, Type: dirsyncv1.EntryType_ENTRY_TYPE_FIFO, Mode: mode, MtimeNs: mtime.UnixNano()}}}
}

func devChange(rel string, typ dirsyncv1.EntryType, major, minor uint32, mtime time.Time) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: &dirsyncv1.Entry{
		Path: rel, Type: typ, Mode: 0o640, MtimeNs: mtime.UnixNano(), DeviceMajor: major, DeviceMinor: minor}}}
}

func rootMetaChange(rel string, mode uint32, mtime time.Time) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_SetRootMetadata{SetRootMetadata: &dirsyncv1.Entry{
		Path: rel, Type: dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY, Mode: mode, MtimeNs: mtime.UnixNano()}}}
}

func linkChangeAt(rel, target string, mtime time.Time) *dirsyncv1.Change {
	c := symlinkChange(rel, target)
	c.GetSymlink().MtimeNs = mtime.UnixNano()
	return c
}

// wantLstat checks the type, permission bits and mtime of rel.
func wantLstat(t *testing.T, root, rel string, typ fs.FileMode, perm fs.FileMode, mtime time.Time) {
	t.Helper()
	info, err := os.Lstat(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("lstat %q: %v", rel, err)
	}
	if info.Mode().Type() != typ || (typ != fs.ModeSymlink && info.Mode()&^fs.ModeType != perm) || !info.ModTime().Equal(mtime) {
		t.Errorf("lstat %q = %v %v, want %v %v %v", rel, info.Mode(), info.ModTime(), typ, perm, mtime)
	}
}

// TestSpecialEntries makes named pipes, sets symlink mtimes and the
// root's metadata, as rsync -a keeps them.
func TestSpecialEntries(t *testing.T) {
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 890, time.UTC)
	later := mtime.Add(time.Hour)
	cases := []struct {
		name    string
		opts    Options
		root    bool // needs to run as root
		setup   func(t *testing.T, root string)
		changes []*dirsyncv1.Change
		codes   []connect.Code
		check   func(t *testing.T, root string)
	}{
		{
			name:    "new fifo",
			changes: []*dirsyncv1.Change{fifoChange("d/p", 0o640, mtime)},
			codes:   []connect.Code{0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "d/p", fs.ModeNamedPipe, 0o640, mtime)
			},
		},
		{
			name: "fifo replaces a file and a directory tree",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "f", []byte("x"))
				writeFile(t, root, "d/e/f", []byte("x"))
			},
			changes: []*dirsyncv1.Change{fifoChange("f", 0o600, mtime), fifoChange("d", 0o644, mtime)},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "f", fs.ModeNamedPipe, 0o600, mtime)
				wantLstat(t, root, "d", fs.ModeNamedPipe, 0o644, mtime)
				assertNoTempFiles(t, root)
			},
		},
		{
			name: "existing fifo gets mode and mtime",
			setup: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "p"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			changes: []*dirsyncv1.Change{fifoChange("p", 0o604, later), metaChange("p", 0o640, mtime)},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "p", fs.ModeNamedPipe, 0o640, mtime)
			},
		},
		{
			name: "make special of a file type",
			changes: []*dirsyncv1.Change{{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: &dirsyncv1.Entry{
				Path: "x", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE}}}},
			codes: []connect.Code{connect.CodeInvalidArgument},
		},
		{
			name: "new and replaced symlinks get their mtime",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "old", []byte("x"))
			},
			changes: []*dirsyncv1.Change{linkChangeAt("l", "t", mtime), linkChangeAt("old", "t", later)},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "l", fs.ModeSymlink, 0, mtime)
				wantLstat(t, root, "old", fs.ModeSymlink, 0, later)
			},
		},
		{
			name: "symlink mtime set without following it",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "target", []byte("x"))
				os.Chtimes(filepath.Join(root, "target"), later, later)
				os.Symlink("target", filepath.Join(root, "l"))
			},
			changes: []*dirsyncv1.Change{metaChange("l", 0o777, mtime), linkChangeAt("l", "target", mtime)},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "l", fs.ModeSymlink, 0, mtime)
				wantLstat(t, root, "target", 0, 0o644, later)
			},
		},
		{
			name:    "device refused by default",
			changes: []*dirsyncv1.Change{devChange("null", dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE, 1, 3, mtime)},
			codes:   []connect.Code{connect.CodeFailedPrecondition},
			check: func(t *testing.T, root string) {
				if _, err := os.Lstat(filepath.Join(root, "null")); !os.IsNotExist(err) {
					t.Errorf("lstat null = %v, want it not made", err)
				}
			},
		},
		{
			name: "devices allowed",
			opts: Options{AllowDevices: true},
			root: true,
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "blk", []byte("x"))
			},
			changes: []*dirsyncv1.Change{
				devChange("d/null", dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE, 1, 3, mtime),
				devChange("blk", dirsyncv1.EntryType_ENTRY_TYPE_BLOCK_DEVICE, 7, 0, mtime),
				devChange("d/null", dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE, 1, 5, later),
			},
			codes: []connect.Code{0, 0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, "d/null", fs.ModeDevice|fs.ModeCharDevice, 0o640, later)
				wantLstat(t, root, "blk", fs.ModeDevice, 0o640, mtime)
				var st syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(root, "d/null"), &st); err != nil || st.Rdev != unix.Mkdev(1, 5) {
					t.Errorf("d/null rdev %#x, %v; want 1,5", st.Rdev, err)
				}
				assertNoTempFiles(t, root)
			},
		},
		{
			name:    "root metadata after the children",
			changes: []*dirsyncv1.Change{mkdirChange("d", 0o755), rootMetaChange("", 0o750, mtime)},
			codes:   []connect.Code{0, 0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, ".", fs.ModeDir, 0o750, mtime)
			},
		},
		{
			name:    "root metadata drops set-id bits",
			changes: []*dirsyncv1.Change{rootMetaChange("", 0o2755, mtime)},
			codes:   []connect.Code{0},
			check: func(t *testing.T, root string) {
				wantLstat(t, root, ".", fs.ModeDir, 0o755, mtime)
			},
		},
		{
			name:    "root metadata with a path",
			changes: []*dirsyncv1.Change{rootMetaChange("a", 0o700, mtime)},
			codes:   []connect.Code{connect.CodeInvalidArgument},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("making devices needs root")
			}
			env := newEnvOpts(t, "", protocols[0], tc.opts)
			if tc.setup != nil {
				tc.setup(t, env.root)
			}
			results := env.applyChanges(t, tc.changes...)
			for i, r := range results {
				if got := connect.Code(r.GetCode()); got != tc.codes[i] {
					t.Errorf("change %d: code %v (%s), want %v", i, got, r.GetMessage(), tc.codes[i])
				}
			}
			if tc.check != nil {
				tc.check(t, env.root)
			}
		})
	}
}

// TestManifestRoot checks that GetManifest describes the root itself, and
// lists named pipes, whatever it is asked for.
func TestManifestRoot(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	mtime := time.Date(2022, 1, 1, 0, 0, 0, 5, time.UTC)
	if err := syscall.Mkfifo(filepath.Join(env.root, "p"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(env.root, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(env.root, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{nil, {"missing"}} {
		stream, err := env.client.GetManifest(testCtx(t), connect.NewRequest(&dirsyncv1.GetManifestRequest{Paths: scopes}))
		if err != nil {
			t.Fatal(err)
		}
		if !stream.Receive() {
			t.Fatalf("GetManifest(%q): no message: %v", scopes, stream.Err())
		}
		root := stream.Msg().GetRoot()
		if root.GetPath() != "" || root.GetType() != dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY || root.GetMode() != 0o711 || root.GetMtimeNs() != mtime.UnixNano() {
			t.Errorf("GetManifest(%q) root = %v, want a directory of mode 0711 and mtime %v", scopes, root, mtime)
		}
		if scopes == nil {
			ents := stream.Msg().GetEntries()
			if len(ents) != 1 || ents[0].GetType() != dirsyncv1.EntryType_ENTRY_TYPE_FIFO {
				t.Errorf("GetManifest() = %v, want the fifo p", ents)
			}
		}
		stream.Close()
	}
}
