//go:build unix

package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

func TestCreatePerm(t *testing.T) {
	cases := []struct {
		mode, umask uint32
		perm        uint32
		final       bool
	}{
		{0o644, 0o022, 0o644, true},
		{0o755, 0o022, 0o755, true},
		{0o600, 0o022, 0o600, true},
		{0o700, 0o077, 0o700, true},
		{0o640, 0o027, 0o640, true},
		{0o644, 0o077, 0o600, false}, // the umask would clear group and other read
		{0o644, 0o002, 0o644, true},
		{0o666, 0o000, 0o600, false}, // others could write the temporary file
		{0o664, 0o002, 0o600, false},
		{0o444, 0o022, 0o600, false}, // the owner could not reopen it to resume
		{0o400, 0o022, 0o600, false},
		{0o200, 0o022, 0o600, false},
		{0o4755, 0o022, 0o600, false}, // setuid is set by chmod only
		{0o2755, 0o022, 0o600, false},
		{0o1755, 0o022, 0o600, false},
		{0, 0o022, 0o600, false},
	}
	saved := processUmask
	t.Cleanup(func() { processUmask = saved })
	for _, tc := range cases {
		processUmask = tc.umask
		perm, final := createPerm(tc.mode)
		if perm != tc.perm || final != tc.final {
			t.Errorf("createPerm(%#o) with umask %#o = %#o, %v; want %#o, %v", tc.mode, tc.umask, perm, final, tc.perm, tc.final)
		}
	}
}

// TestUploadModes checks that files come out with their exact mode and
// mtime whether their temporary file was created with the final
// permissions or chmodded afterwards, new or replacing a file of another
// mode.
func TestUploadModes(t *testing.T) {
	// Set-id bits are kept only when allowed; see TestSetidDropped.
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 987654321, time.UTC)
	modes := []uint32{0o644, 0o600, 0o755, 0o700, 0o640, 0o666, 0o664, 0o444, 0o400, 0o4755, 0o2750, 0o1777, 0}
	forEachProtocolOpts(t, Options{AllowSetid: true}, func(t *testing.T, env *testEnv) {
		var reqs []*dirsyncv1.UploadRequest
		for i, mode := range modes {
			data := randomBytes(100+i, byte(i))
			reqs = append(reqs, literalUpload(fileEntry(filepath.Join("new", modeName(mode)), data, mode, mtime), data)...)
			// The file it replaces has another mode.
			writeFile(t, env.root, filepath.Join("old", modeName(mode)), []byte("previous"))
			if err := os.Chmod(filepath.Join(env.root, "old", modeName(mode)), 0o604); err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, literalUpload(fileEntry(filepath.Join("old", modeName(mode)), data, mode, mtime), data)...)
		}
		resps := env.uploadAll(t, 2*len(modes), reqs...)
		for _, r := range resps {
			if r.GetCode() != 0 {
				t.Fatalf("%s: code %s: %s", r.GetPath(), codeName(r.GetCode()), r.GetMessage())
			}
		}
		for _, dir := range []string{"new", "old"} {
			for _, mode := range modes {
				info, err := os.Lstat(filepath.Join(env.root, dir, modeName(mode)))
				if err != nil {
					t.Fatal(err)
				}
				if want := engine.FileMode(mode); info.Mode() != want {
					t.Errorf("%s/%s: mode %v, want %v", dir, modeName(mode), info.Mode(), want)
				}
				if !info.ModTime().Equal(mtime) {
					t.Errorf("%s/%s: mtime %v, want %v", dir, modeName(mode), info.ModTime(), mtime)
				}
			}
		}
		assertNoTempFiles(t, env.root)
	})
}

// modeName names a test file after its mode.
func modeName(mode uint32) string {
	return fmt.Sprintf("m%04o", mode)
}
