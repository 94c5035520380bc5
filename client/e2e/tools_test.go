package e2e_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The commands here are the ones the README shows; keep them in step.

func runTool(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestGrpcurl(t *testing.T) {
	grpcurl := toolPath(t, "grpcurl")
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "hello.txt", []byte("hello, grpcurl"), 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)

	services := lines(runTool(t, grpcurl, "-plaintext", s.addr, "list"))
	for _, want := range []string{"dirsync.v1.SyncService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("grpcurl list = %v, want it to contain %s", services, want)
		}
	}
	describe := runTool(t, grpcurl, "-plaintext", s.addr, "describe", "dirsync.v1.SyncService")
	for _, rpc := range []string{"Status", "GetManifest", "ApplyChanges", "GetSignature", "Upload"} {
		if !strings.Contains(describe, "rpc "+rpc) {
			t.Errorf("describe lacks rpc %s:\n%s", rpc, describe)
		}
	}
	health := runTool(t, grpcurl, "-plaintext", s.addr, "grpc.health.v1.Health/Check")
	if !strings.Contains(health, "SERVING") {
		t.Errorf("health check = %s, want SERVING", health)
	}
	var st struct {
		Files      string `json:"files"`
		TotalBytes string `json:"totalBytes"`
	}
	out := runTool(t, grpcurl, "-plaintext", s.addr, "dirsync.v1.SyncService/Status")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("Status output is not JSON: %v\n%s", err, out)
	}
	if st.Files != "1" || st.TotalBytes != "14" {
		t.Errorf("Status = files %q, totalBytes %q; want 1 and 14:\n%s", st.Files, st.TotalBytes, out)
	}
	manifest := runTool(t, grpcurl, "-plaintext", "-d", `{"paths": ["hello.txt"]}`, s.addr, "dirsync.v1.SyncService/GetManifest")
	if !strings.Contains(manifest, `"hello.txt"`) {
		t.Errorf("GetManifest output lacks hello.txt:\n%s", manifest)
	}
}

func TestBufCurl(t *testing.T) {
	buf := toolPath(t, "buf")
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "a/b.txt", []byte("hello, buf curl"), 0o644)
	s := startServer(t, dst)
	syncOnce(t, src, s)
	out := runTool(t, buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
		s.url()+"/dirsync.v1.SyncService/Status")
	if !strings.Contains(out, `"files": "1"`) {
		t.Errorf("buf curl Status = %s, want one file", out)
	}
	out = runTool(t, buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
		"--data", `{"path": "a/b.txt"}`, s.url()+"/dirsync.v1.SyncService/GetSignature")
	if !strings.Contains(out, `"fileSize": "15"`) {
		t.Errorf("buf curl GetSignature = %s, want fileSize 15", out)
	}
}
