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

	"golang.org/x/sys/unix"
)

// TestScanSpecialFiles checks that a named pipe is listed as a FIFO,
// never opened, and that a socket is reported and left out.
func TestScanSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"d/a", "d/z"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "d", "fifo"), 0o640); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := syscall.Mknod(filepath.Join(root, "d", "sock"), syscall.S_IFSOCK|0o644, 0); err != nil {
		t.Skipf("mknod socket: %v", err)
	}
	for _, contained := range []bool{false, true} {
		got, errs, err := Scan(root, ScanOptions{Contained: contained})
		if err != nil {
			t.Fatalf("Scan(contained %v) error = %v", contained, err)
		}
		if want := []string{"d", "d/a", "d/fifo", "d/z"}; !slices.Equal(treePaths(got), want) {
			t.Errorf("Scan(contained %v) paths = %q, want %q", contained, treePaths(got), want)
		}
		if i := slices.IndexFunc(got, func(e Entry) bool { return e.Path == "d/fifo" }); i < 0 || got[i].Type != TypeFIFO || got[i].Mode != 0o640 {
			t.Errorf("Scan(contained %v) = %+v, want d/fifo a fifo of mode 0640", contained, got)
		}
		if len(errs) != 1 || errs[0].Path != "d/sock" || !errors.Is(errs[0], ErrUnsupportedType) {
			t.Errorf("Scan(contained %v) scan errors = %v, want one ErrUnsupportedType for %q", contained, errs, "d/sock")
		}
	}
	got, errs, err := ScanPath(root, "d/fifo", ScanOptions{})
	if err != nil || len(got) != 1 || got[0].Type != TypeFIFO || len(errs) != 0 {
		t.Errorf("ScanPath(%q) = %v, %v, %v, want one fifo", "d/fifo", got, errs, err)
	}
}

// TestScanDevice checks that a device is listed with its numbers.
func TestScanDevice(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mknod(filepath.Join(root, "null"), syscall.S_IFCHR|0o640, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v (needs root)", err)
	}
	for _, contained := range []bool{false, true} {
		got, errs, err := Scan(root, ScanOptions{Contained: contained})
		if err != nil || len(errs) != 0 || len(got) != 1 {
			t.Fatalf("Scan(contained %v) = %v, %v, %v; want one device", contained, got, errs, err)
		}
		if e := got[0]; e.Type != TypeCharDev || e.DevMajor != 1 || e.DevMinor != 3 || e.Mode != 0o640 {
			t.Errorf("Scan(contained %v) = %+v, want char device 1,3 of mode 0640", contained, e)
		}
	}
}

// TestScanEveryName checks that every name Linux allows is listed: a
// backslash and bytes that are not UTF-8 included.
func TestScanEveryName(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"ok", `back\slash`, "bad\xffutf8", "caf\xe9"} {
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o644); err != nil {
			t.Skipf("cannot create %q: %v", name, err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, `dir\x`), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, `dir\x`, "inner\xe9"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, contained := range []bool{false, true} {
		got, errs, err := Scan(root, ScanOptions{Contained: contained})
		if err != nil {
			t.Fatalf("Scan() error = %v", err)
		}
		want := []string{`back\slash`, "bad\xffutf8", "caf\xe9", `dir\x`, `dir\x/inner` + "\xe9", "ok"}
		if !slices.Equal(treePaths(got), want) || len(errs) != 0 {
			t.Errorf("Scan(contained %v) = %q, %v; want %q and no errors", contained, treePaths(got), errs, want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("Scan(contained %v).Validate() = %v", contained, err)
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

// TestScanDirectorySwappedForSymlink swaps a directory for a symlink to a
// directory outside the root in the middle of a contained scan, from the
// Skip callback: the scan must list nothing from outside the root.
func TestScanDirectorySwappedForSymlink(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "d"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "d", "a"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "a"), []byte("outside, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	swap := func(when string) func(rel string, _ bool) bool {
		done := false
		return func(rel string, _ bool) bool {
			if rel == when && !done {
				done = true
				if err := os.Rename(filepath.Join(root, "d"), filepath.Join(root, "old")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, filepath.Join(root, "d")); err != nil {
					t.Fatal(err)
				}
			}
			return false
		}
	}
	restore := func() {
		os.Remove(filepath.Join(root, "d"))
		if err := os.Rename(filepath.Join(root, "old"), filepath.Join(root, "d")); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		scan func() (Manifest, []ScanError, error)
	}{
		{"Scan, swapped while listing d", func() (Manifest, []ScanError, error) {
			return Scan(root, ScanOptions{Skip: swap("d/a"), Contained: true})
		}},
		{"ScanPath, swapped after checking d", func() (Manifest, []ScanError, error) {
			return ScanPath(root, "d/a", ScanOptions{Skip: swap("d"), Contained: true})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer restore()
			m, _, err := tc.scan()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range m {
				if e.Path == "d/a" && e.Size != 2 {
					t.Errorf("listed d/a of %d bytes: the file outside the root", e.Size)
				}
			}
		})
	}
}

// TestScanContainedSame checks that a contained scan lists what a scan by
// path lists.
func TestScanContainedSame(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a", "d/b", "d/e/c", "z/y/x/w"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"l": "d", "d/up": "..", "d/abs": "/"} {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	for _, scope := range []string{"", "d", "d/e/c", "z/y", "l", "l/b", "missing/x"} {
		scan := func(contained bool) (Manifest, []ScanError, error) {
			opts := ScanOptions{Contained: contained}
			if scope == "" {
				return Scan(root, opts)
			}
			return ScanPath(root, scope, opts)
		}
		want, wantErrs, err := scan(false)
		if err != nil {
			t.Fatal(err)
		}
		got, gotErrs, err := scan(true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || len(gotErrs) != len(wantErrs) {
			t.Errorf("scope %q: contained scan = %v %v, want %v %v", scope, got, gotErrs, want, wantErrs)
		}
	}
}

// TestScanHardLinkedSpecialsAndRawNames checks that a scan groups only
// regular files into link sets, whatever their names: a named pipe with
// two links is two pipes, as rsync -H makes it, and a set whose names are
// not UTF-8 is a set like any other.
func TestScanHardLinkedSpecialsAndRawNames(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "p1"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "caf\xe9"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"p1", "p2"}, {"caf\xe9", "z\xff"}} {
		if err := os.Link(filepath.Join(root, l[0]), filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"caf\xe9": "", "p1": "", "p2": "", "z\xff": "caf\xe9"}
	for _, contained := range []bool{false, true} {
		m, errs, err := Scan(root, ScanOptions{Contained: contained, Workers: 2})
		if err != nil || len(errs) > 0 {
			t.Fatalf("Scan(contained %v) = %v, %v", contained, errs, err)
		}
		if len(m) != len(want) {
			t.Fatalf("Scan(contained %v) listed %d entries, want %d", contained, len(m), len(want))
		}
		for _, e := range m {
			if w := want[e.Path]; e.HardlinkTarget != w {
				t.Errorf("Scan(contained %v): %q (%v) links to %q, want %q", contained, e.Path, e.Type, e.HardlinkTarget, w)
			}
		}
		if err := m.Validate(); err != nil {
			t.Errorf("Scan(contained %v) made an invalid manifest: %v", contained, err)
		}
	}
}
