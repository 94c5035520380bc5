package client

import (
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestValidateScoped(t *testing.T) {
	dir := func(p string) engine.Entry { return engine.Entry{Path: p, Type: engine.TypeDir, Mode: 0o755} }
	file := func(p string) engine.Entry { return engine.Entry{Path: p, Type: engine.TypeFile, Mode: 0o644} }
	tests := []struct {
		name   string
		m      engine.Manifest
		scopes []string
		ok     bool
	}{
		{"whole tree", engine.Manifest{dir("a"), file("a/x")}, nil, true},
		{"whole tree, parent missing", engine.Manifest{file("a/x")}, nil, false},
		{"deep scope without its parents", engine.Manifest{dir("a/b"), file("a/b/x")}, []string{"a/b"}, true},
		{"two scopes", engine.Manifest{file("a/b/x"), dir("c"), file("c/y")}, []string{"a/b/x", "c"}, true},
		{"empty answer", nil, []string{"gone"}, true},
		{"entry outside the scopes", engine.Manifest{file("a/b"), file("z")}, []string{"a/b"}, false},
		{"sibling with a shared prefix", engine.Manifest{file("ab")}, []string{"a"}, false},
		{"out of order", engine.Manifest{file("c/y"), dir("c")}, []string{"c"}, false},
		{"duplicate", engine.Manifest{file("a"), file("a")}, []string{"a"}, false},
		{"child of a file", engine.Manifest{file("a"), file("a/x")}, []string{"a"}, false},
		{"bad path", engine.Manifest{file("a/../b")}, []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateScoped(tt.m, tt.scopes)
			if (err == nil) != tt.ok {
				t.Errorf("validateScoped(%v, %q) = %v, want ok %v", tt.m, tt.scopes, err, tt.ok)
			}
		})
	}
}
