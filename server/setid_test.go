//go:build unix

package server

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// TestSetidDropped checks that, unless allowed, the setuid, setgid and
// sticky bits a peer sends never reach the disk, whichever RPC sets the
// mode, and that the manifest and Status say so. Run as root, it checks
// that no root-owned set-id file appears.
func TestSetidDropped(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	data := []byte("#!/bin/sh\necho hi\n")
	for _, tt := range []struct {
		name  string
		allow bool
	}{
		{"dropped", false},
		{"allowed", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnvOpts(t, "", protocols[1], Options{AllowSetid: tt.allow})
			writeFile(t, env.root, "meta", data)
			writeFile(t, env.root, "metadir/x", data)
			if r := env.uploadOne(t, literalUpload(fileEntry("up", data, 0o6755, mtime), data)...); r.GetCode() != 0 {
				t.Fatalf("upload: %s: %s", codeName(r.GetCode()), r.GetMessage())
			}
			results := env.applyChanges(t,
				mkdirChange("dir", 0o7755),
				metaChange("meta", 0o4755, mtime),
				metaChange("metadir", 0o3777, mtime),
				copyChange(fileEntry("copy", data, 0o2755, mtime)),
			)
			for _, r := range results {
				if r.GetCode() != 0 {
					t.Fatalf("%s: %s: %s", r.GetPath(), codeName(r.GetCode()), r.GetMessage())
				}
			}
			want := map[string]os.FileMode{
				"up":      0o755 | os.ModeSetuid | os.ModeSetgid,
				"dir":     0o755 | os.ModeDir | os.ModeSetuid | os.ModeSetgid | os.ModeSticky,
				"meta":    0o755 | os.ModeSetuid,
				"metadir": 0o777 | os.ModeDir | os.ModeSetgid | os.ModeSticky,
				"copy":    0o755 | os.ModeSetgid,
			}
			for rel, mode := range want {
				if !tt.allow {
					mode &^= os.ModeSetuid | os.ModeSetgid | os.ModeSticky
				}
				info, err := os.Lstat(filepath.Join(env.root, rel))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode() != mode {
					t.Errorf("%s: mode %v, want %v", rel, info.Mode(), mode)
				}
				if st := info.Sys().(*syscall.Stat_t); !tt.allow && st.Uid == 0 && info.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
					t.Errorf("%s: root-owned set-id entry %v", rel, info.Mode())
				}
			}
			wantDropped := int64(len(want))
			if tt.allow {
				wantDropped = 0
			}
			st := env.status(t)
			if st.GetDropsSetid() == tt.allow || st.GetSetidDropped() != wantDropped {
				t.Errorf("status: drops_setid %v, setid_dropped %d; want %v and %d", st.GetDropsSetid(), st.GetSetidDropped(), !tt.allow, wantDropped)
			}
		})
	}
}

// TestManifestReportsSetidDrop checks that every manifest message says
// whether set-id bits are dropped, and that an empty listing still has a
// message to say it in.
func TestManifestReportsSetidDrop(t *testing.T) {
	for _, allow := range []bool{false, true} {
		env := newEnvOpts(t, "", protocols[1], Options{AllowSetid: allow})
		for _, scopes := range [][]string{nil, {"missing"}} {
			stream, err := env.client.GetManifest(testCtx(t), connect.NewRequest(&dirsyncv1.GetManifestRequest{Paths: scopes}))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for stream.Receive() {
				if n == 0 && stream.Msg().GetRoot().GetType() != dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY {
					t.Errorf("allow %v, scopes %q: first message root %v, want the root directory", allow, scopes, stream.Msg().GetRoot())
				}
				n++
				if stream.Msg().GetDropsSetid() == allow {
					t.Errorf("allow %v, scopes %q: drops_setid %v", allow, scopes, stream.Msg().GetDropsSetid())
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			stream.Close()
			if n != 1 {
				t.Errorf("allow %v, scopes %q: %d messages for an empty listing, want 1", allow, scopes, n)
			}
		}
	}
}
