package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	longName := strings.Repeat("n", MaxNameLength)
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"simple", "a", true},
		{"nested", "a/b/c", true},
		{"dot in name", "a/.hidden/b.txt", true},
		{"dots in name", "a/...", true},
		{"dotdot prefix in name", "..a/b..", true},
		{"unicode", "répertoire/日本語/файл", true},
		{"spaces", " a b /c d ", true},
		{"shell hostile", "$(rm -rf)/`x`;|&<>", true},
		{"quotes and globs", `'"` + "`*?[]{}~!#", true},
		{"newline", "a\nb", true},
		{"longest name", longName, true},
		{"longest path", strings.Repeat(strings.Repeat("x", 15)+"/", 256)[:MaxPathLength-1] + "y", true},

		{"empty", "", false},
		{"dot", ".", false},
		{"dotdot", "..", false},
		{"parent escape", "../x", false},
		{"deep escape", "a/../../x", false},
		{"inner dotdot", "a/../b", false},
		{"trailing dotdot", "a/..", false},
		{"inner dot", "a/./b", false},
		{"leading dot", "./a", false},
		{"trailing dot", "a/.", false},
		{"absolute", "/abs", false},
		{"root", "/", false},
		{"double slash", "a//b", false},
		{"trailing slash", "a/", false},
		{"backslash", `a\b`, !backslashSeparates},
		{"backslash escape", `..\x`, !backslashSeparates},
		{"NUL", "a\x00b", false},
		{"name too long", longName + "n", false},
		{"nested name too long", "a/" + longName + "n/b", false},
		{"path too long", strings.Repeat("a/", MaxPathLength/2) + "a", false},
		{"latin-1", "caf\xe9/na\xefve", true},
		{"invalid UTF-8", "a/\xff\xfe", true},
		{"truncated UTF-8", "\xe6\x97", true},
		{"latin-1 dotdot", "caf\xe9/../x", false},
		{"latin-1 NUL", "caf\xe9\x00", false},
		{"latin-1 name too long", "a/\xe9" + longName, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePath(tt.path)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidatePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidPath) {
				t.Errorf("ValidatePath(%q) = %v, want it to wrap ErrInvalidPath", tt.path, err)
			}
		})
	}
}

func TestValidatePathMessage(t *testing.T) {
	err := ValidatePath(strings.Repeat("a", 100) + "//b")
	msg := err.Error()
	if !strings.Contains(msg, "empty component") || !strings.Contains(msg, "...") || len(msg) > 120 {
		t.Errorf("ValidatePath(long) = %q, want a truncated path and the problem", msg)
	}
}

func TestParentPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", ""},
		{"a/b", "a"},
		{"a/b/c", "a/b"},
		{"a-b/c.d/e", "a-b/c.d"},
	}
	for _, tt := range tests {
		if got := ParentPath(tt.in); got != tt.want {
			t.Errorf("ParentPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsWithin(t *testing.T) {
	tests := []struct {
		p, dir string
		want   bool
	}{
		{"a", "", true},
		{"a/b", "", true},
		{"a", "a", true},
		{"a/b", "a", true},
		{"a/b/c", "a", true},
		{"a/b/c", "a/b", true},
		{"a-b", "a", false},
		{"ab", "a", false},
		{"a", "a/b", false},
		{"b/a", "a", false},
		{"a/bc", "a/b", false},
	}
	for _, tt := range tests {
		if got := IsWithin(tt.p, tt.dir); got != tt.want {
			t.Errorf("IsWithin(%q, %q) = %v, want %v", tt.p, tt.dir, got, tt.want)
		}
	}
}

func TestWirePath(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		wantText string
		wantRaw  []byte
	}{
		{"empty", "", "", nil},
		{"ascii", "a/b.txt", "a/b.txt", nil},
		{"utf8", "répertoire/日本", "répertoire/日本", nil},
		{"backslash", `a\b`, `a\b`, nil},
		{"latin1", "caf\xe9", "", []byte("caf\xe9")},
		{"truncated utf8", "a/\xe6\x97", "", []byte("a/\xe6\x97")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, raw := WirePath(tt.path)
			if text != tt.wantText || string(raw) != string(tt.wantRaw) || (raw == nil) != (tt.wantRaw == nil) {
				t.Fatalf("WirePath(%q) = %q, %q; want %q, %q", tt.path, text, raw, tt.wantText, tt.wantRaw)
			}
			back, err := PathFromWire("path", text, raw)
			if err != nil || back != tt.path {
				t.Fatalf("PathFromWire(WirePath(%q)) = %q, %v; want the path back", tt.path, back, err)
			}
		})
	}
}

func TestPathFromWire(t *testing.T) {
	tests := []struct {
		name string
		text string
		raw  []byte
		want string
		ok   bool
	}{
		{"text", "a/b", nil, "a/b", true},
		{"raw", "", []byte("a/\xff"), "a/\xff", true},
		{"raw utf8", "", []byte("a/b"), "a/b", true},
		{"neither", "", nil, "", true},
		{"both", "a", []byte("b"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PathFromWire("path", tt.text, tt.raw)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("PathFromWire(%q, %q) = %q, %v; want %q, ok=%v", tt.text, tt.raw, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidPath) {
				t.Errorf("PathFromWire(%q, %q) = %v, want it to wrap ErrInvalidPath", tt.text, tt.raw, err)
			}
		})
	}
}
