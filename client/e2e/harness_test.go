package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// binDir holds the dirsync-server and dirsync-client binaries built once for
// the whole package by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dirsync-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	modRoot, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	build := exec.Command("go", "build", "-o", dir+"/", "./server/cmd/dirsync-server", "./client/cmd/dirsync-client")
	build.Dir = modRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build binaries: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the dirsync module")
	}
	return filepath.Dir(mod), nil
}

// syncBuffer is a goroutine-safe bytes.Buffer for a child's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running dirsync binary whose output is kept for failure reports.
type process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
}

func startProcess(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{output: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the process to end, killing it if it
// does not within ten seconds.
func (p *process) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop on SIGTERM", p.cmd.Path)
	}
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

var addrPattern = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// server is a running dirsync-server on a loopback port.
type server struct {
	*process
	root string
	addr string
}

// startServer starts dirsync-server on root, listening on a free loopback
// port, and waits until it says where it listens.
func startServer(t *testing.T, root string, extra ...string) *server {
	t.Helper()
	return startServerOn(t, root, "127.0.0.1:0", extra...)
}

func startServerOn(t *testing.T, root, listen string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--root", root, "--listen", listen, "--log-level", "debug"}, extra...)
	p := startProcess(t, "dirsync-server", args...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrPattern.FindStringSubmatch(p.output.String()); m != nil {
			return &server{process: p, root: root, addr: m[1]}
		}
		select {
		case <-p.done:
			t.Fatalf("dirsync-server exited early: %v\n%s", p.err, p.output.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("dirsync-server never reported its address:\n%s", p.output.String())
	return nil
}

func (s *server) url() string { return "http://" + s.addr }

// runOnce runs dirsync-client --once and returns its exit code and output.
func runOnce(t *testing.T, dir string, s *server, extra ...string) (int, string) {
	t.Helper()
	return runOnceURL(t, dir, s.url(), extra...)
}

// runOnceURL runs dirsync-client --once against the server URL serverURL
// and returns its exit code and output.
func runOnceURL(t *testing.T, dir, serverURL string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"--dir", dir, "--server", serverURL, "--once"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "dirsync-client"), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run dirsync-client: %v", err)
		}
		code = exit.ExitCode()
	}
	return code, string(out)
}

// syncOnce runs dirsync-client --once and fails the test unless it exits 0.
func syncOnce(t *testing.T, dir string, s *server, extra ...string) string {
	t.Helper()
	code, out := runOnce(t, dir, s, extra...)
	if code != 0 {
		t.Fatalf("dirsync-client --once exited %d:\n%s\nserver:\n%s", code, out, s.output.String())
	}
	return out
}

// syncOnceURL is syncOnce against serverURL, which reaches s some other
// way than its own address, e.g. through a proxy.
func syncOnceURL(t *testing.T, dir, serverURL string, s *server, extra ...string) string {
	t.Helper()
	code, out := runOnceURL(t, dir, serverURL, extra...)
	if code != 0 {
		t.Fatalf("dirsync-client --once exited %d:\n%s\nserver:\n%s", code, out, s.output.String())
	}
	return out
}

// startWatch starts dirsync-client in watch mode.
func startWatch(t *testing.T, dir string, s *server, extra ...string) *process {
	t.Helper()
	args := append([]string{"--dir", dir, "--server", s.url(), "--log-level", "debug"}, extra...)
	return startProcess(t, "dirsync-client", args...)
}

// rpcClient returns a gRPC client for the server over h2c.
func rpcClient(s *server) dirsyncv1connect.SyncServiceClient {
	httpClient := &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	return dirsyncv1connect.NewSyncServiceClient(httpClient, s.url(), connect.WithGRPC())
}

func status(t *testing.T, s *server) *dirsyncv1.StatusResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := rpcClient(s).Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return resp.Msg
}

// treeEntry is what the comparison checks of one item.
type treeEntry struct {
	mode    fs.FileMode
	mtime   time.Time
	content []byte
	target  string
}

// readTree reads every item under root: type and permission bits, mtime
// (not for symlinks), content of files and targets of symlinks.
func readTree(root string) (map[string]treeEntry, error) {
	tree := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		e := treeEntry{mode: info.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.target, err = os.Readlink(path)
		case info.Mode().IsRegular():
			e.mtime = info.ModTime()
			e.content, err = os.ReadFile(path)
		default:
			e.mtime = info.ModTime()
		}
		if err != nil {
			return err
		}
		tree[filepath.ToSlash(rel)] = e
		return nil
	})
	return tree, err
}

// diffTrees describes how two trees differ, or returns "" when they hold the
// same items with the same bytes, modes, mtimes and link targets.
func diffTrees(want, got string) string {
	a, err := readTree(want)
	if err != nil {
		return "read " + want + ": " + err.Error()
	}
	b, err := readTree(got)
	if err != nil {
		return "read " + got + ": " + err.Error()
	}
	var diffs []string
	for p, ea := range a {
		eb, ok := b[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing on server: "+p)
		case ea.mode != eb.mode:
			diffs = append(diffs, fmt.Sprintf("%s: mode %v, want %v", p, eb.mode, ea.mode))
		case !bytes.Equal(ea.content, eb.content):
			diffs = append(diffs, fmt.Sprintf("%s: content differs (%d bytes, want %d)", p, len(eb.content), len(ea.content)))
		case ea.target != eb.target:
			diffs = append(diffs, fmt.Sprintf("%s: link target %q, want %q", p, eb.target, ea.target))
		case !ea.mtime.Equal(eb.mtime):
			diffs = append(diffs, fmt.Sprintf("%s: mtime %v, want %v", p, eb.mtime, ea.mtime))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, "extraneous on server: "+p)
		}
	}
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
	}
	return strings.Join(diffs, "\n")
}

// requireMirror fails the test unless got mirrors want exactly.
func requireMirror(t *testing.T, want, got string) {
	t.Helper()
	if d := diffTrees(want, got); d != "" {
		t.Fatalf("trees differ:\n%s", d)
	}
}

// waitMirror polls until got mirrors want, or fails after the timeout.
func waitMirror(t *testing.T, want, got string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = diffTrees(want, got); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("trees did not converge within %v:\n%s", timeout, last)
}

// writeFile writes content at root/rel, creating parents, with the given mode.
func writeFile(t *testing.T, root, rel string, content []byte, mode fs.FileMode) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// toolPath finds an external tool in DIRSYNC_TOOLS (set by make test) or on
// PATH. Under CI a missing tool fails the test; elsewhere it skips it.
func toolPath(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv("DIRSYNC_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run the tests with make test, which installs it", name)
	}
	t.Skipf("%s not installed: make tools installs it", name)
	return ""
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
