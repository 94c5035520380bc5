package client

import (
	"slices"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestIgnoreRulesMatch(t *testing.T) {
	rules := newIgnoreRules("# comment\n*.log\nbuild/\n/root-only\n!keep.log\ndocs/**/*.tmp\n", []string{"node_modules", "*.swp"})
	tests := []struct {
		name  string
		path  string
		isDir bool
		want  bool
	}{
		{"extension anywhere", "a/b/x.log", false, true},
		{"negated", "keep.log", false, false},
		{"dir pattern on dir", "build", true, true},
		{"dir pattern on file", "build", false, false},
		{"under ignored dir", "build/out/x", false, true},
		{"anchored at root", "root-only", false, true},
		{"anchored elsewhere", "sub/root-only", false, false},
		{"double star", "docs/a/b/x.tmp", false, true},
		{"exclude flag", "web/node_modules", true, true},
		{"exclude glob", "a/.x.swp", false, true},
		{"plain file", "src/main.go", false, false},
		{"comment is not a pattern", "# comment", false, false},
		{"root never", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rules.match(tt.path, tt.isDir); got != tt.want {
				t.Errorf("match(%q, %v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
			}
		})
	}
}

func TestIgnoreRulesEmpty(t *testing.T) {
	for _, r := range []*ignoreRules{nil, newIgnoreRules("", nil), newIgnoreRules("# only a comment\n\n", nil)} {
		if r.match("anything", false) || r.match("dir", true) {
			t.Errorf("empty rules %+v match something", r)
		}
	}
}

func TestIgnoreRulesFilter(t *testing.T) {
	rules := newIgnoreRules("*.log\nbuild/\n", []string{"tmp"})
	remote := engine.Manifest{
		{Path: "a.txt", Type: engine.TypeFile},
		{Path: "build", Type: engine.TypeDir},
		{Path: "build/out", Type: engine.TypeFile},
		{Path: "build/sub", Type: engine.TypeDir},
		{Path: "build/sub/x", Type: engine.TypeFile},
		{Path: "build.txt", Type: engine.TypeFile},
		{Path: "src", Type: engine.TypeDir},
		{Path: "src/app.log", Type: engine.TypeFile},
		{Path: "src/build", Type: engine.TypeFile},
		{Path: "src/main.go", Type: engine.TypeFile},
		{Path: "tmp", Type: engine.TypeDir},
		{Path: "tmp/t", Type: engine.TypeFile},
	}
	var got []string
	for _, e := range rules.filter(remote) {
		got = append(got, e.Path)
	}
	// "build/" matches directories only, so the file src/build stays.
	want := []string{"a.txt", "build.txt", "src", "src/build", "src/main.go"}
	if !slices.Equal(got, want) {
		t.Errorf("filter = %q, want %q", got, want)
	}
	var none *ignoreRules
	if n := len(none.filter(remote)); n != len(remote) {
		t.Errorf("nil rules filter kept %d of %d entries", n, len(remote))
	}
}
