package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// buildBinary builds the server into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dirsync-server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestServeAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	root := filepath.Join(t.TempDir(), "mirror")
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--root", root)
	cmd.Env = append(os.Environ(), "DIRSYNC_LOG_LEVEL=debug", "DIRSYNC_LISTEN=127.0.0.1:1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line on stderr")
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root not created: %v", err)
	}

	// The gRPC protocol over h2c needs HTTP/2 without TLS on the client too.
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	client := dirsyncv1connect.NewSyncServiceClient(&http.Client{Transport: tr}, "http://"+addr, connect.WithGRPC())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if resp.Msg.GetRoot() != root {
		t.Errorf("root = %q, want %q", resp.Msg.GetRoot(), root)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

func TestBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
	}{
		{"unknown flag", []string{"--bogus"}, nil},
		{"bad log level", []string{"--log-level", "loud"}, nil},
		{"bad env max bytes", nil, []string{"DIRSYNC_MAX_MESSAGE_BYTES=lots"}},
		{"zero max bytes", []string{"--max-message-bytes", "0"}, nil},
		{"extra argument", []string{"dir"}, nil},
		{"negative max file bytes", []string{"--max-file-bytes", "-1"}, nil},
		{"bad env max file bytes", nil, []string{"DIRSYNC_MAX_FILE_BYTES=1GB"}},
		{"negative max temp bytes", []string{"--max-temp-bytes", "-5"}, nil},
		{"bad env max temp bytes", nil, []string{"DIRSYNC_MAX_TEMP_BYTES=-1"}},
		{"zero upload streams", []string{"--max-upload-streams", "0"}, nil},
		{"bad env upload streams", nil, []string{"DIRSYNC_MAX_UPLOAD_STREAMS=0"}},
		{"zero watchers", []string{"--max-watchers", "0"}, nil},
		{"zero max memory", []string{"--max-memory-bytes", "0"}, nil},
		{"bad env max memory", nil, []string{"DIRSYNC_MAX_MEMORY_BYTES=lots"}},
		{"port out of range", []string{"--listen", ":70000"}, nil},
		{"port out of range in env", nil, []string{"DIRSYNC_LISTEN=127.0.0.1:65536"}},
		{"no port", []string{"--listen", "127.0.0.1"}, nil},
		{"port not a number", []string{"--listen", "127.0.0.1:eighty"}, nil},
		{"bad log format", []string{"--log-format", "xml"}, nil},
		{"bad env log format", nil, []string{"DIRSYNC_LOG_FORMAT=yaml"}},
		{"metrics without port", []string{"--metrics-listen", "127.0.0.1"}, nil},
		{"metrics port out of range", []string{"--metrics-listen", ":65536"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			if code := run(tc.args, io.Discard, io.Discard); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Errorf("--help: exit code %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "--max-memory-bytes") || !strings.Contains(stdout.String(), "Exit codes:") || stderr.Len() != 0 {
		t.Errorf("--help wrote %d bytes to stdout, lacking the flags or exit codes, and to stderr:\n%s", stdout.Len(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"--no-such-flag"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("--no-such-flag: exit code %d, want %d", code, exitUsage)
	}
	if n := strings.Count(stderr.String(), "\n"); n > 2 || stdout.Len() != 0 {
		t.Errorf("--no-such-flag wrote %d lines to stderr, want at most 2, and %d bytes to stdout:\n%s", n, stdout.Len(), stderr.String())
	}
}

func TestFlagBeatsEnv(t *testing.T) {
	t.Setenv("DIRSYNC_ROOT", "/from/env")
	t.Setenv("DIRSYNC_LOG_LEVEL", "warn")
	cfg, err := parseFlags([]string{"--root", "/from/flag"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.root != "/from/flag" || cfg.logLevel.String() != "WARN" {
		t.Errorf("root %q level %v, want /from/flag WARN", cfg.root, cfg.logLevel)
	}
}

func TestLimitFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxFileBytes != 0 || cfg.maxTempBytes != 4<<30 || cfg.maxUploadStreams != 64 {
		t.Errorf("defaults: file %d temp %d streams %d, want 0, 4 GiB, 64", cfg.maxFileBytes, cfg.maxTempBytes, cfg.maxUploadStreams)
	}
	t.Setenv("DIRSYNC_MAX_FILE_BYTES", "1000")
	t.Setenv("DIRSYNC_MAX_TEMP_BYTES", "0")
	t.Setenv("DIRSYNC_MAX_UPLOAD_STREAMS", "3")
	cfg, err = parseFlags([]string{"--max-upload-streams", "5"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxFileBytes != 1000 || cfg.maxTempBytes != 0 || cfg.maxUploadStreams != 5 {
		t.Errorf("from env and flags: file %d temp %d streams %d, want 1000, 0, 5", cfg.maxFileBytes, cfg.maxTempBytes, cfg.maxUploadStreams)
	}
}

func TestSyncNewFilesFlag(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    bool
		wantErr string
	}{
		{name: "default", want: false},
		{name: "flag", args: []string{"--sync-new-files"}, want: true},
		{name: "env", env: "true", want: true},
		{name: "flag beats env", env: "1", args: []string{"--sync-new-files=false"}, want: false},
		{name: "bad env", env: "sometimes", wantErr: `DIRSYNC_SYNC_NEW_FILES="sometimes": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DIRSYNC_SYNC_NEW_FILES", tt.env)
			cfg, err := parseFlags(tt.args, io.Discard, io.Discard)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.syncNewFiles != tt.want {
				t.Errorf("syncNewFiles %v, want %v", cfg.syncNewFiles, tt.want)
			}
		})
	}
}

// TestPortInUse checks that a port in use fails at once, with one plain
// line and exit code 1, before the root is even created: the port is
// bound before the tree is indexed.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	root := filepath.Join(t.TempDir(), "mirror")
	var stderr strings.Builder
	if code := run([]string{"--listen", addr, "--root", root}, io.Discard, &stderr); code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
	want := "dirsync-server: listen " + addr + ": address already in use (another server running? pick another with --listen)\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root was created before the port was bound: %v", err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{":0", true},
		{"[::1]:65535", true},
		{"localhost:http", true},
		{":70000", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1", false},
		{"127.0.0.1:no-such-service", false},
	} {
		if err := checkListen("--listen", tc.addr); (err == nil) != tc.ok {
			t.Errorf("checkListen(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}
