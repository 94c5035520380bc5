package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	cases := []struct {
		format string
		check  func(line string) bool
	}{
		{"text", func(line string) bool {
			return strings.Contains(line, "msg=hello component=server path=a.txt")
		}},
		{"json", func(line string) bool {
			var rec map[string]any
			return json.Unmarshal([]byte(line), &rec) == nil && rec["component"] == "server" && rec["path"] == "a.txt"
		}},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		newLogger(tc.format, slog.LevelInfo, &buf).Info("hello", "path", "a.txt")
		if line := strings.TrimSpace(buf.String()); !tc.check(line) {
			t.Errorf("newLogger(%q) wrote %q", tc.format, line)
		}
	}
}

func TestExposed(t *testing.T) {
	cases := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false},
		{"::1", false},
		{"0.0.0.0", true},
		{"::", true},
		{"192.0.2.7", true},
	}
	for _, tc := range cases {
		if got := exposed(&net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 8080}); got != tc.want {
			t.Errorf("exposed(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}
