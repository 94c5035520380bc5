package e2e_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dirsyncserver "github.com/dirsync/dirsync/server"
)

// TestFullDisk fills the file system under the server's root while the
// client sends new versions of files, and checks that the client is told
// RESOURCE_EXHAUSTED, that the old versions stay intact with no temporary
// file left, and that the trees converge once space is freed. It runs on
// a real 8 MiB tmpfs where this machine lets the test mount one (as root,
// outside an unprivileged container), and always with ENOSPC injected into
// the server's writes through the server.Options.WriteFault test hook; the
// log says which ran.
func TestFullDisk(t *testing.T) {
	t.Run("tmpfs", func(t *testing.T) {
		mnt := mountTmpfs(t, "8m")
		root := filepath.Join(mnt, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("full disk mode: real tmpfs of 8 MiB at %s", mnt)
		s := startServer(t, root)
		filler := filepath.Join(mnt, "filler")
		runFullDisk(t, root, s.url(), func() string { return s.output.String() },
			func(t *testing.T) { fillFileSystem(t, filler) },
			func(t *testing.T) {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			})
	})
	t.Run("injected", func(t *testing.T) {
		t.Log("full disk mode: ENOSPC injected through server.Options.WriteFault")
		root := t.TempDir()
		var full atomic.Bool
		url, logs := startInProcessServer(t, root, dirsyncserver.Options{
			WriteFault: func(int) error {
				if full.Load() {
					return syscall.ENOSPC
				}
				return nil
			},
		})
		runFullDisk(t, root, url, logs,
			func(*testing.T) { full.Store(true) },
			func(*testing.T) { full.Store(false) })
	})
}

// runFullDisk syncs a tree into root through the server at url, fills the
// disk, changes the tree, checks what a full disk must do, frees the disk
// and waits for the trees to converge. serverLogs returns the server's
// output so far, for failure reports.
func runFullDisk(t *testing.T, root, url string, serverLogs func() string, fill, free func(t *testing.T)) {
	r := rand.New(rand.NewPCG(11, 12))
	src := t.TempDir()
	v1 := map[string][]byte{
		"big.bin":       randomBytes(r, 1<<20),
		"docs/note.txt": []byte("first version of the note\n"),
	}
	for rel, data := range v1 {
		writeFile(t, src, rel, data, 0o644)
	}
	if code, out := runOnceURL(t, src, url); code != 0 {
		t.Fatalf("initial sync exited %d:\n%s\nserver:\n%s", code, out, serverLogs())
	}
	requireMirror(t, src, root)

	fill(t)
	writeFile(t, src, "big.bin", randomBytes(r, 2<<20), 0o644)
	writeFile(t, src, "docs/note.txt", []byte("second version of the note, written while the disk is full\n"), 0o644)
	writeFile(t, src, "new.bin", randomBytes(r, 512<<10), 0o644)
	client := startProcess(t, "dirsync-client", "--dir", src, "--server", url, "--log-level", "debug")

	// The client is told, for each file, that the disk is full.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(client.output.String(), "code=resource_exhausted") {
		if time.Now().After(deadline) {
			t.Fatalf("the client never reported resource_exhausted:\n%s\nserver:\n%s", client.output.String(), serverLogs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(client.output.String(), "no space left on device") {
		t.Errorf("the client's report does not say the disk is full:\n%s", client.output.String())
	}
	for rel, data := range v1 {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s is not the old version while the disk is full (err %v)", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "new.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new.bin exists on a full disk: %v", err)
	}
	// The client goes on retrying, so an upload may be in flight: its
	// temporary file must go once it fails too.
	waitNoServerTemp(t, root, 10*time.Second)

	free(t)
	waitMirror(t, src, root, 60*time.Second)
	requireNoServerTemp(t, root)
}

// waitNoServerTemp waits until no server temporary file or partial
// upload is under root, and fails with what is left after timeout.
func waitNoServerTemp(t *testing.T, root string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		left := false
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), serverTempPrefix) {
				left = true
			}
			return nil
		})
		if !left {
			return
		}
	}
	requireNoServerTemp(t, root)
}

// requireNoServerTemp fails if a server temporary file or partial upload
// is under root.
func requireNoServerTemp(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), serverTempPrefix) {
			t.Errorf("temporary file left: %s", path)
		}
		return err
	})
}

// mountTmpfs mounts a tmpfs of the given size on a fresh directory,
// unmounted at cleanup, or skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("full disk mode tmpfs skipped: cannot mount a tmpfs here (%v); the injected mode runs instead", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			// A server still shutting down may hold it: detach it.
			if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", mnt, err)
			}
		}
	})
	return mnt
}

// fillFileSystem writes name until its file system has no space left.
func fillFileSystem(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Use up the last partial chunk too.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
}

// startInProcessServer serves a server.Server over root with opts on a
// loopback port, over h2c, for the tests that need a test hook. It returns
// the URL for dirsync-client and a function that returns its logs.
func startInProcessServer(t *testing.T, root string, opts dirsyncserver.Options) (string, func() string) {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := dirsyncserver.New(root, opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), Protocols: new(http.Protocols)}
	hs.Protocols.SetUnencryptedHTTP2(true)
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if t.Failed() {
			t.Logf("in-process server logs:\n%s", logs.String())
		}
	})
	return "http://" + ln.Addr().String(), logs.String
}
