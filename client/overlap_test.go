package client

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// rootStatus returns the Status a server with its root at root on this
// machine (or on another, with machine) would give.
func rootStatus(t *testing.T, root, machine string) *dirsyncv1.StatusResponse {
	t.Helper()
	self, ancestors, ok, err := engine.DirIDs(root)
	if err != nil || !ok {
		t.Skipf("no FileIDs here: %v", err)
	}
	st := &dirsyncv1.StatusResponse{MachineId: machine, RootId: &dirsyncv1.FileID{Device: self.Device, Inode: self.Inode}}
	for _, a := range ancestors {
		st.RootAncestorIds = append(st.RootAncestorIds, &dirsyncv1.FileID{Device: a.Device, Inode: a.Inode})
	}
	return st
}

// TestOverlappingRoots checks that a pass refuses a directory inside the
// server's root (or the root itself), and leaves out the server's root
// when it lies inside the directory.
func TestOverlappingRoots(t *testing.T) {
	if engine.MachineID() == "" {
		t.Skip("no machine id here")
	}
	top := t.TempDir()
	writeFile(t, top, "src/a.txt", []byte("a"))
	writeFile(t, top, "src/mirror/x/old.txt", []byte("what the server holds"))
	writeFile(t, top, "other/y", []byte("another root"))
	src, inner := filepath.Join(top, "src"), filepath.Join(top, "src", "mirror", "x")
	cases := []struct {
		name, dir, root string
		machine         string
		wantErr         bool
		wantSkip        string
	}{
		{"root inside the directory", src, inner, engine.MachineID(), false, "mirror/x"},
		{"directory inside the root", inner, src, engine.MachineID(), true, ""},
		{"directory is the root", src, src, engine.MachineID(), true, ""},
		{"another machine", inner, src, "elsewhere", false, ""},
		{"directory deeper inside the root", inner, filepath.Join(top, "src", "mirror"), engine.MachineID(), true, ""},
		{"no overlap", src, filepath.Join(top, "other"), engine.MachineID(), false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer()
			f.status = rootStatus(t, tc.root, tc.machine)
			c := f.serve(t, tc.dir, nil)
			sum, err := c.SyncOnce(context.Background())
			if tc.wantErr {
				if !errors.Is(err, ErrOverlap) {
					t.Fatalf("SyncOnce: %v, want ErrOverlap", err)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if len(f.nodes) != 0 || len(f.manifests) != 0 {
					t.Errorf("the refused pass reached the server: %d entries, %d listings", len(f.nodes), len(f.manifests))
				}
				return
			}
			if err != nil || sum.Failed != 0 {
				t.Fatalf("SyncOnce: %v, %d failed", err, sum.Failed)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			_, sentRoot := f.nodes["mirror/x"]
			if tc.dir == src && sentRoot != (tc.wantSkip == "") {
				t.Errorf("sent mirror/x: %v, want %v", sentRoot, tc.wantSkip == "")
			}
			if _, ok := f.nodes["mirror"]; tc.dir == src && !ok {
				t.Error("the directory holding the server's root was not sent")
			}
		})
	}
}
