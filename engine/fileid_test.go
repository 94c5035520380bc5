package engine

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDirIDs(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no device and inode numbers")
	}
	top := t.TempDir()
	dir := filepath.Join(top, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(top, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	id := func(p string) FileID {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := FileIDOf(info)
		if !ok {
			t.Fatalf("no FileID for %s", p)
		}
		return f
	}
	for _, name := range []string{dir, link} {
		self, ancestors, ok, err := DirIDs(name)
		if err != nil || !ok {
			t.Fatalf("DirIDs(%s) = %v, %v", name, ok, err)
		}
		if self != id(dir) {
			t.Errorf("DirIDs(%s): self %v, want %v", name, self, id(dir))
		}
		if len(ancestors) < 3 || ancestors[0] != id(filepath.Join(top, "a")) || ancestors[1] != id(top) ||
			ancestors[len(ancestors)-1] != id("/") {
			t.Errorf("DirIDs(%s): ancestors %v, want a, top, ..., /", name, ancestors)
		}
	}
	if _, _, _, err := DirIDs(filepath.Join(top, "missing")); err == nil {
		t.Error("DirIDs of a missing directory: no error")
	}
}

func TestMachineID(t *testing.T) {
	if _, err := os.Stat(bootIDFile); err != nil {
		t.Skip("no boot id here")
	}
	a, b := MachineID(), MachineID()
	if len(a) != 64 || a != b {
		t.Errorf("MachineID = %q then %q, want the same 64 hex digits", a, b)
	}
	raw, _ := os.ReadFile(bootIDFile)
	if string(raw) != "" && a == string(raw) {
		t.Error("MachineID hands out the boot id itself")
	}
}
