package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/engine"
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
