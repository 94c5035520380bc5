package server

import (
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// TestStatusRootIdentity checks that Status says where the root lies on
// this machine, for clients to find an overlap with their directory.
func TestStatusRootIdentity(t *testing.T) {
	root := t.TempDir()
	env := newEnv(t, root, protocols[0])
	st := env.status(t)
	info, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := engine.FileIDOf(info)
	if !ok {
		t.Skip("no device and inode numbers here")
	}
	if got := st.GetRootId(); got.GetDevice() != want.Device || got.GetInode() != want.Inode {
		t.Errorf("root_id = %v, want %+v", got, want)
	}
	parent, err := os.Stat(filepath.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	wantParent, _ := engine.FileIDOf(parent)
	anc := st.GetRootAncestorIds()
	if len(anc) == 0 || anc[0].GetDevice() != wantParent.Device || anc[0].GetInode() != wantParent.Inode {
		t.Errorf("root_ancestor_ids = %v, want the parent %+v first", anc, wantParent)
	}
	if st.GetMachineId() != engine.MachineID() {
		t.Errorf("machine_id = %q, want %q", st.GetMachineId(), engine.MachineID())
	}
}

// TestStatusOmitTreeCounts checks that a Status that leaves out the tree's
// counts still says where the root lies.
func TestStatusOmitTreeCounts(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "d/a", []byte("hello"))
	env := newEnv(t, root, protocols[0])
	resp, err := env.client.Status(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{OmitTreeCounts: true}))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	st := resp.Msg
	if st.GetFiles() != 0 || st.GetDirectories() != 0 || st.GetRootId() == nil || st.GetRoot() != env.root {
		t.Errorf("Status without counts = %v, want no counts but the root's identity", st)
	}
	if full := env.status(t); full.GetFiles() != 1 || full.GetDirectories() != 1 {
		t.Errorf("Status = %v, want 1 file and 1 directory", full)
	}
}
