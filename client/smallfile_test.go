package client

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestOpenSmall(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/file", []byte("hello"))
	if err := os.Symlink("file", filepath.Join(dir, "a/link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "a/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(filepath.Join(dir, "a/file"))
	if err != nil {
		t.Fatal(err)
	}
	scanned := engine.Entry{Path: "a/file", Type: engine.TypeFile, Size: info.Size(), MtimeNs: info.ModTime().UnixNano()}
	grown := scanned
	grown.Size++
	touched := scanned
	touched.MtimeNs--
	c := &Client{opts: Options{Dir: dir}}

	tests := []struct {
		name     string
		rel      string
		scanned  engine.Entry
		openErr  bool // the open fails with errChanged
		sameErr  bool // sameAs fails with errChanged
		wantData string
	}{
		{name: "unchanged", rel: "a/file", scanned: scanned, wantData: "hello"},
		{name: "size changed", rel: "a/file", scanned: grown, sameErr: true},
		{name: "mtime changed", rel: "a/file", scanned: touched, sameErr: true},
		{name: "removed", rel: "a/gone", scanned: scanned, openErr: true},
		{name: "directory removed", rel: "b/file", scanned: scanned, openErr: true},
		{name: "parent is a file", rel: "a/file/x", scanned: scanned, openErr: true},
		{name: "symlink in its place", rel: "a/link", scanned: scanned, openErr: true},
		{name: "named pipe in its place", rel: "a/fifo", scanned: scanned, sameErr: true},
		{name: "directory in its place", rel: "a", scanned: scanned, sameErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := c.openSmall(tt.rel)
			if tt.openErr {
				if !errors.Is(err, errChanged) {
					t.Fatalf("openSmall(%q) = %v, want errChanged", tt.rel, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("openSmall(%q): %v", tt.rel, err)
			}
			defer f.close()
			err = f.sameAs(tt.scanned)
			if tt.sameErr {
				if !errors.Is(err, errChanged) {
					t.Fatalf("sameAs = %v, want errChanged", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("sameAs: %v", err)
			}
			data, err := io.ReadAll(f)
			if err != nil || string(data) != tt.wantData {
				t.Fatalf("read %q, %v; want %q", data, err, tt.wantData)
			}
		})
	}
}
