package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingDirIsUsageError checks that a -dir that does not exist, or is
// not a directory, stops the client with exit code 2 and a one-line
// message before it contacts any server, and that the client never creates
// it: an empty tree would have emptied the server's.
func TestMissingDirIsUsageError(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"missing", filepath.Join(tmp, "projj"), "no such directory"},
		{"file", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// The server URL is never reached: nothing listens there.
			code := run([]string{"--dir", tc.dir, "--once", "--server", "http://127.0.0.1:1"}, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("run exited %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, "--dir "+tc.dir+": "+tc.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr = %q, want one line saying %q", msg, tc.want)
			}
			if info, err := os.Stat(tc.dir); tc.name == "missing" && err == nil {
				t.Errorf("the client created %s (dir %v)", tc.dir, info.IsDir())
			}
		})
	}
}

// TestDefaultDirNamedInMessage checks that the message says when the
// directory was the default, which is how running from the wrong folder
// shows.
func TestDefaultDirNamedInMessage(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("DIRSYNC_DIR", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--once", "--server", "http://127.0.0.1:1"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("run exited %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), defaultDir+" (the default): no such directory") {
		t.Errorf("stderr = %q, want it to name the default directory", stderr.String())
	}
	if _, err := os.Stat(defaultDir); err == nil {
		t.Errorf("the client created %s", defaultDir)
	}
}
