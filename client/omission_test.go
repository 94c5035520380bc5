package client

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestSyncReportsSkipped checks that the items a pass cannot mirror (a
// socket) are in its summary with their reasons, that ignored ones are
// not, and that names and types it can mirror are not skipped: a name
// with a backslash, one that is not UTF-8, a named pipe.
func TestSyncReportsSkipped(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ok.txt", []byte("ok"))
	writeFile(t, dir, `back\slash`, []byte("b"))
	writeFile(t, dir, "caf\xe9", []byte("c"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sock", "ignored.sock"} {
		if err := syscall.Mknod(filepath.Join(dir, name), syscall.S_IFSOCK|0o644, 0); err != nil {
			t.Skipf("mknod socket: %v", err)
		}
	}
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Excludes = []string{"*.sock"} })
	sum, err := c.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
	var paths []string
	for _, o := range sum.Omitted {
		paths = append(paths, o.Path)
		if !o.Skipped || o.Reason == "" {
			t.Errorf("omission %+v: want skipped with a reason", o)
		}
	}
	if want := []string{"sock"}; !slices.Equal(paths, want) || sum.Skipped() != 1 || sum.Failed != 0 {
		t.Errorf("omitted %q (skipped %d, failed %d), want %q skipped", paths, sum.Skipped(), sum.Failed, want)
	}
	if sum.Sent != 3 || sum.Specials != 1 {
		t.Errorf("sent %d files and %d named pipes, want 3 and 1", sum.Sent, sum.Specials)
	}
	if !strings.Contains(sum.String(), "skipped 1") {
		t.Errorf("summary %q does not count the skipped items", sum.String())
	}
}

// TestNoteSkippedLogsOnce checks that a skipped item is logged once while
// it stays skipped, and again once it was fixed and broke anew.
func TestNoteSkippedLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	c := &Client{log: slog.New(slog.NewTextHandler(&buf, nil))}
	fifo := []Omission{{Path: "d/fifo", Reason: "named pipe", Skipped: true}}
	count := func() int { return strings.Count(buf.String(), "skipping item") }
	steps := []struct {
		skipped []Omission
		scopes  []string
		want    int
	}{
		{fifo, nil, 1},
		{fifo, nil, 1},              // full pass, still there
		{fifo, []string{"d"}, 1},    // scoped pass over it
		{nil, []string{"other"}, 1}, // a pass that does not cover it forgets nothing
		{fifo, nil, 1},
		{nil, []string{"d/fifo"}, 1}, // fixed
		{fifo, nil, 2},               // broken anew
	}
	for i, s := range steps {
		c.noteSkipped(s.skipped, s.scopes)
		if got := count(); got != s.want {
			t.Fatalf("step %d: logged %d times, want %d:\n%s", i, got, s.want, buf.String())
		}
	}
}

// TestWriteOmissions checks the list -once prints.
func TestWriteOmissions(t *testing.T) {
	om := []Omission{
		{Path: "a", Reason: "named pipe", Skipped: true},
		{Path: "b", Reason: "upload: disk full"},
		{Path: "c", Reason: "x", Skipped: true},
	}
	var buf bytes.Buffer
	if err := WriteOmissions(&buf, om, 2); err != nil {
		t.Fatal(err)
	}
	want := "skipped \"a\": named pipe\nfailed  \"b\": upload: disk full\n... and 1 more\n"
	if buf.String() != want {
		t.Errorf("WriteOmissions wrote %q, want %q", buf.String(), want)
	}
}
