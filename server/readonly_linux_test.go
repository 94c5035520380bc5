package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sys/unix"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// readOnlyRoot returns a fresh directory holding the file "existing" and
// the directory "dir", bind-mounted read-only over itself for the test.
// It skips the test where it cannot mount: as root, DAC permissions do
// not refuse anything, so a read-only mount is how a test makes the file
// system refuse writes.
func readOnlyRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a read-only directory")
	}
	dir := t.TempDir()
	writeFile(t, dir, "existing", []byte("old"))
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	return dir
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReadOnlyRoot checks that a server whose root cannot be written
// warns at start, and that every write fails with FailedPrecondition and
// a message naming the cause and the relative path, never the root.
func TestReadOnlyRoot(t *testing.T) {
	root := readOnlyRoot(t)
	var logs lockedBuffer
	env := newEnvOpts(t, root, protocols[1], Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "root is not writable") {
		t.Errorf("no warning at start; log:\n%s", logs.String())
	}

	data := []byte("new content")
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	type result struct {
		path, msg string
		code      uint32
	}
	var got []result
	for _, r := range env.uploadAll(t, 2,
		append(literalUpload(fileEntry("a/b", data, 0o644, mtime), data),
			literalUpload(fileEntry("existing", data, 0o644, mtime), data)...)...) {
		got = append(got, result{r.GetPath(), r.GetMessage(), r.GetCode()})
	}
	for _, r := range env.applyChanges(t,
		mkdirChange("newdir", 0o755),
		deleteChange("existing"),
		deleteChange("dir"),
		metaChange("existing", 0o600, mtime),
		symlinkChange("link", "existing"),
	) {
		got = append(got, result{r.GetPath(), r.GetMessage(), r.GetCode()})
	}
	for _, r := range got {
		if connect.Code(r.code) != connect.CodeFailedPrecondition ||
			!strings.Contains(r.msg, "read-only file system") || !strings.Contains(r.msg, `"`+r.path+`"`) {
			t.Errorf("%s: code %s, message %q; want failed_precondition naming the path and the read-only file system",
				r.path, codeName(r.code), r.msg)
		}
		if strings.Contains(r.msg, root) {
			t.Errorf("%s: message %q names the server's root", r.path, r.msg)
		}
	}

	// Reading still works.
	if _, _, err := env.manifest(t); err != nil {
		t.Errorf("GetManifest: %v", err)
	}
	if _, err := env.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{Path: "existing"})); err != nil {
		t.Errorf("GetSignature: %v", err)
	}
}
