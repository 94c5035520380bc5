package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

func linkChange(rel, target string) *dirsyncv1.Change {
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{
		Path: rel, Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, HardlinkTarget: target}}}
}

// sameInode reports whether the entries at a and b under root are one
// file.
func sameInode(t *testing.T, root, a, b string) bool {
	t.Helper()
	ia, err := os.Lstat(filepath.Join(root, a))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.Lstat(filepath.Join(root, b))
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(ia, ib)
}

func TestMakeHardlink(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, root, outside string)
		change  *dirsyncv1.Change
		code    connect.Code
		mention string
		// linked names the path that must end up linked to "src/a".
		linked string
	}{
		{"new link in a new directory", nil, linkChange("d/b", "src/a"), 0, "", "d/b"},
		{"replaces a file", func(t *testing.T, root, _ string) { writeFile(t, root, "b", []byte("old")) },
			linkChange("b", "src/a"), 0, "", "b"},
		{"replaces a symlink", func(t *testing.T, root, _ string) {
			os.Symlink("src/a", filepath.Join(root, "b"))
		}, linkChange("b", "src/a"), 0, "", "b"},
		{"linked already", func(t *testing.T, root, _ string) {
			os.Link(filepath.Join(root, "src/a"), filepath.Join(root, "b"))
		}, linkChange("b", "src/a"), 0, "", "b"},
		{"target missing", nil, linkChange("b", "src/none"), connect.CodeNotFound, "not a regular file", ""},
		{"target a directory", nil, linkChange("b", "src"), connect.CodeNotFound, "not a regular file", ""},
		{"target a symlink", func(t *testing.T, root, _ string) {
			os.Symlink("a", filepath.Join(root, "src/l"))
		}, linkChange("b", "src/l"), connect.CodeNotFound, "not a regular file", ""},
		{"target through a symlinked directory", func(t *testing.T, root, outside string) {
			os.Symlink(outside, filepath.Join(root, "out"))
		}, linkChange("b", "out/secret"), connect.CodeFailedPrecondition, "", ""},
		{"target outside the root", nil, linkChange("b", "../secret"), connect.CodeInvalidArgument, "", ""},
		{"target a temporary name", nil, linkChange("b", tempPrefix+"x"), connect.CodeInvalidArgument, "reserved", ""},
		{"no target", nil, linkChange("b", ""), connect.CodeInvalidArgument, "no hardlink_target", ""},
		{"itself", nil, linkChange("src/a", "src/a"), connect.CodeInvalidArgument, "itself", ""},
		{"a directory type", nil, &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{
			Path: "b", Type: dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY, HardlinkTarget: "src/a"}}}, connect.CodeInvalidArgument, "type", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			writeFile(t, root, "src/a", []byte("shared content"))
			writeFile(t, outside, "secret", []byte("secret"))
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			env := newEnv(t, root, protocols[0])
			r := env.applyChanges(t, tc.change)[0]
			if got, want := codeName(r.GetCode()), codeName(uint32(tc.code)); got != want {
				t.Fatalf("code %s, want %s (%s)", got, want, r.GetMessage())
			}
			if !strings.Contains(r.GetMessage(), tc.mention) || strings.Contains(r.GetMessage(), root) {
				t.Errorf("message %q does not mention %q or holds a server path", r.GetMessage(), tc.mention)
			}
			if tc.linked != "" && !sameInode(t, root, "src/a", tc.linked) {
				t.Errorf("%s is not a link to src/a", tc.linked)
			}
			if tc.code != 0 {
				if _, err := os.Lstat(filepath.Join(root, "b")); err == nil && tc.setup == nil {
					t.Errorf("a failed link left b behind")
				}
			}
			assertNoTempFiles(t, root)
		})
	}
}

// TestManifestHardlinkTargets checks that the server reports its link
// sets, in the whole tree and in a listing of subtrees.
func TestManifestHardlinkTargets(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "x/a", []byte("shared"))
	writeFile(t, root, "y/solo", []byte("solo"))
	for _, l := range []string{"x/b", "y/c"} {
		if err := os.Link(filepath.Join(root, "x/a"), filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	env := newEnv(t, root, protocols[0])
	tests := []struct {
		scopes []string
		want   []string // path=target of the files with a target
	}{
		{nil, []string{"x/b=x/a", "y/c=x/a"}},
		{[]string{"y"}, nil},
		{[]string{"x", "y"}, []string{"x/b=x/a", "y/c=x/a"}},
	}
	for _, tt := range tests {
		entries, _, err := env.manifest(t, tt.scopes...)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.GetHardlinkTarget() != "" {
				got = append(got, e.GetPath()+"="+e.GetHardlinkTarget())
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("manifest(%q) links %q, want %q", tt.scopes, got, tt.want)
		}
	}
}

// TestCopyContentBreaksLink checks that copy_content of a file linked on
// the server, but not on the client, makes it a file of its own: its
// content is already right, but only a new copy ends the link.
func TestCopyContentBreaksLink(t *testing.T) {
	root := t.TempDir()
	content := []byte("shared content")
	writeFile(t, root, "a", content)
	if err := os.Link(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, root, protocols[0])
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	r := env.applyChanges(t, copyChange(fileEntry("b", content, 0o600, mtime)))[0]
	if r.GetCode() != 0 {
		t.Fatalf("copy content: %s: %s", codeName(r.GetCode()), r.GetMessage())
	}
	if sameInode(t, root, "a", "b") {
		t.Error("b is still a link to a")
	}
	info, err := os.Stat(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() == 0o600 || info.ModTime().Equal(mtime) {
		t.Errorf("a got b's metadata: %v %v", info.Mode(), info.ModTime())
	}
}

// TestRawHardLinks checks hard links whose names are not UTF-8: the
// server makes a link named and aimed in the raw fields, lists its link
// sets with raw_hardlink_target, and refuses a target that sets both
// forms or names a path outside the root.
func TestRawHardLinks(t *testing.T) {
	const (
		primary = "caf\xe9"
		link    = "d/lien\xff"
	)
	root := t.TempDir()
	writeFile(t, root, primary, []byte("shared content"))
	env := newEnv(t, root, protocols[0])
	rawLink := func(rel, target string) *dirsyncv1.Change {
		return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{
			RawPath: []byte(rel), Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, RawHardlinkTarget: []byte(target)}}}
	}
	if r := env.applyChanges(t, rawLink(link, primary))[0]; r.GetCode() != 0 || string(r.GetRawPath()) != link {
		t.Fatalf("make_hardlink(raw %q -> %q) = %v, want OK naming it in raw_path", link, primary, r)
	}
	if !sameInode(t, root, primary, link) {
		t.Fatalf("%q is not a link to %q", link, primary)
	}
	entries, _, err := env.manifest(t)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.GetHardlinkTarget() != "" || len(e.GetRawHardlinkTarget()) > 0 {
			got = append(got, entryName(e)+"="+e.GetHardlinkTarget()+"|raw:"+string(e.GetRawHardlinkTarget()))
		}
	}
	if want := []string{link + "=|raw:" + primary}; !slices.Equal(got, want) {
		t.Errorf("manifest links %q, want %q", got, want)
	}

	both := rawLink("b", primary)
	both.GetMakeHardlink().HardlinkTarget = "x"
	for _, ch := range []*dirsyncv1.Change{both, rawLink("b", "../\xff"), rawLink("b", "\xff/../../x")} {
		if r := env.applyChanges(t, ch)[0]; connect.Code(r.GetCode()) != connect.CodeInvalidArgument {
			t.Errorf("make_hardlink(%v): %s (%s), want InvalidArgument", ch.GetMakeHardlink(), codeName(r.GetCode()), r.GetMessage())
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "b")); !os.IsNotExist(err) {
		t.Errorf("a refused link left b behind: %v", err)
	}
	assertNoTempFiles(t, root)
}
