//go:build unix

package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func TestScanFifo(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"d/a", "d/z"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "d", "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got, errs, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if want := []string{"d", "d/a", "d/z"}; !slices.Equal(treePaths(got), want) {
		t.Errorf("Scan() paths = %q, want %q", treePaths(got), want)
	}
	if len(errs) != 1 || errs[0].Path != "d/fifo" || !errors.Is(errs[0], ErrUnsupportedType) {
		t.Errorf("Scan() scan errors = %v, want one ErrUnsupportedType for %q", errs, "d/fifo")
	}

	got, errs, err = ScanPath(root, "d/fifo", ScanOptions{})
	if err != nil || len(got) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrUnsupportedType) {
		t.Errorf("ScanPath(%q) = %v, %v, %v, want no entries and one ErrUnsupportedType", "d/fifo", got, errs, err)
	}
}

// TestScanUnsendableNames checks that names that are legal on Unix but not
// on the wire are reported and left out, so that the manifest stays valid.
func TestScanUnsendableNames(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"ok", `back\slash`, "bad\xffutf8"} {
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o644); err != nil {
			t.Skipf("cannot create %q: %v", name, err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, `dir\x`), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, `dir\x`, "inner"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, errs, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if want := []string{"ok"}; !slices.Equal(treePaths(got), want) {
		t.Errorf("Scan() paths = %q, want %q", treePaths(got), want)
	}
	if len(errs) != 3 {
		t.Fatalf("Scan() scan errors = %v, want 3", errs)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrInvalidPath) {
			t.Errorf("Scan() scan error %v, want ErrInvalidPath", e)
		}
	}
}

func TestScanUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	root := t.TempDir()
	locked := filepath.Join(root, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(locked, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "z"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	got, errs, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if want := []string{"locked", "z"}; !slices.Equal(treePaths(got), want) {
		t.Errorf("Scan() paths = %q, want %q", treePaths(got), want)
	}
	if len(errs) != 1 || errs[0].Path != "locked" || !errors.Is(errs[0], fs.ErrPermission) {
		t.Errorf("Scan() scan errors = %v, want one permission error for %q", errs, "locked")
	}
}
