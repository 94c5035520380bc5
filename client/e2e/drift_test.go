package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// driftRounds is how many times TestWatchRepairsDrift repeats each kind of
// drift; DIRSYNC_DRIFT_ROUNDS overrides it (10 for the figures).
func driftRounds(t *testing.T) int {
	if v := os.Getenv("DIRSYNC_DRIFT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DIRSYNC_DRIFT_ROUNDS=%q: want a positive integer", v)
		}
		return n
	}
	return 3
}

// TestWatchRepairsDrift changes the server's copy behind its back while a
// client watches an idle tree, with the periodic verification off: only
// the server's change stream can bring the repairs. It logs how long each
// repair took.
func TestWatchRepairsDrift(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	rounds := driftRounds(t)
	for i := range rounds {
		writeFile(t, src, fmt.Sprintf("d/m%02d.txt", i), []byte("to be modified on the server"), 0o644)
		writeFile(t, src, fmt.Sprintf("d/r%02d.txt", i), []byte("to be removed on the server"), 0o644)
	}
	s := startServer(t, dst)
	startWatch(t, src, s, "--verify-interval", "0")
	waitMirror(t, src, dst, 30*time.Second)

	repairs := map[string][]time.Duration{}
	repair := func(kind string, drift func() error) {
		t.Helper()
		start := time.Now()
		if err := drift(); err != nil {
			t.Fatal(err)
		}
		waitMirror(t, src, dst, 10*time.Second)
		repairs[kind] = append(repairs[kind], time.Since(start))
	}
	for i := range rounds {
		repair("modify", func() error {
			return os.WriteFile(filepath.Join(dst, "d", fmt.Sprintf("m%02d.txt", i)), []byte("drifted"), 0o644)
		})
		repair("delete", func() error {
			return os.Remove(filepath.Join(dst, "d", fmt.Sprintf("r%02d.txt", i)))
		})
		repair("stray", func() error {
			return os.WriteFile(filepath.Join(dst, "d", fmt.Sprintf("stray%02d.txt", i)), []byte("not the client's"), 0o644)
		})
	}
	for _, kind := range []string{"modify", "delete", "stray"} {
		d := slices.Clone(repairs[kind])
		slices.Sort(d)
		t.Logf("repair of %s drift: median %v, max %v over %d runs", kind, d[len(d)/2], d[len(d)-1], len(d))
	}
}

// TestWatchRestoresEmptiedServer restarts the server on an emptied root
// while the client watches an idle tree: the client notices the new
// server instance and restores the tree without a local change.
func TestWatchRestoresEmptiedServer(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "a.txt", []byte("alpha"), 0o644)
	writeFile(t, src, "sub/b.txt", []byte("beta"), 0o600)
	s := startServer(t, dst)
	client := startWatch(t, src, s, "--verify-interval", "0")
	waitMirror(t, src, dst, 30*time.Second)

	s.kill()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	startServerOn(t, dst, s.addr)
	waitMirror(t, src, dst, 30*time.Second)
	t.Logf("tree restored %v after the restart began", time.Since(start))
	select {
	case <-client.done:
		t.Fatalf("client exited: %v", client.err)
	default:
	}
}

// TestGrpcurlWatchChanges follows the change stream with grpcurl, as a
// script would, and sees a file made behind the server's back.
func TestGrpcurlWatchChanges(t *testing.T) {
	grpcurl := toolPath(t, "grpcurl")
	dst := t.TempDir()
	s := startServer(t, dst)

	out := &syncBuffer{}
	cmd := exec.Command(grpcurl, "-plaintext", "-d", `{"path": ""}`, s.addr, "dirsync.v1.SyncService/WatchChanges")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitOutput := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if all(out.String(), want) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("grpcurl never showed %s:\n%s", what, out.String())
	}
	waitOutput("the first answer", `"instanceId"`)
	writeFile(t, dst, "drift.txt", []byte("made behind the server's back"), 0o644)
	waitOutput("the change", `"path": "drift.txt"`, `"kind": "CHANGE_KIND_CREATED"`,
		`"origin": "CHANGE_ORIGIN_EXTERNAL"`, `"generation": "1"`)
}

// all reports whether s contains every one of subs.
func all(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
