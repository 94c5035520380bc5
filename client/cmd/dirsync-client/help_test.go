package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpAndBadFlags checks that asked-for help goes to stdout whole and
// that a bad flag costs one error line and a hint on stderr, not the help.
func TestHelpAndBadFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		maxStderr  int // lines
	}{
		{name: "help", args: []string{"--help"}, wantCode: exitOK, wantStdout: "Exit codes:", maxStderr: 0},
		{name: "h", args: []string{"-h"}, wantCode: exitOK, wantStdout: "-max-delete", maxStderr: 0},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantCode: exitUsage, maxStderr: 2},
		{name: "bad value", args: []string{"--concurrency", "many"}, wantCode: exitUsage, maxStderr: 2},
		{name: "help on waiting", args: []string{"--help"}, wantCode: exitOK, wantStdout: "Waiting for a sync (-wait-for-sync):", maxStderr: 0},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantCode: exitUsage, maxStderr: 1},
		{name: "wait and once", args: []string{"--wait-for-sync", "--once"}, wantCode: exitUsage, maxStderr: 1},
		{name: "wait and dry run", args: []string{"--wait-for-sync", "--dry-run"}, wantCode: exitUsage, maxStderr: 1},
		{name: "timeout without wait", args: []string{"--timeout", "1m"}, wantCode: exitUsage, maxStderr: 1},
		{name: "metrics address bad", args: []string{"--dir", ".", "--metrics-listen", "127.0.0.1"}, wantCode: exitUsage, maxStderr: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d", tt.args, code, tt.wantCode)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout lacks %q:\n%s", tt.args, tt.wantStdout, stdout.String())
			}
			if tt.wantStdout == "" && stdout.Len() != 0 {
				t.Errorf("run(%q) wrote to stdout:\n%s", tt.args, stdout.String())
			}
			if n := strings.Count(stderr.String(), "\n"); n > tt.maxStderr {
				t.Errorf("run(%q) wrote %d lines to stderr, want at most %d:\n%s", tt.args, n, tt.maxStderr, stderr.String())
			}
		})
	}
}
