package engine

import (
	"slices"
	"testing"
)

func TestReduceScopes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"one", []string{"a"}, []string{"a"}},
		{"duplicates", []string{"a", "a"}, []string{"a"}},
		{"many duplicates", slices.Repeat([]string{"d/e"}, 1000), []string{"d/e"}},
		{"child dropped", []string{"a/b/c", "a", "a/b"}, []string{"a"}},
		{"children of duplicates dropped", []string{"a/x", "a", "a/y/z", "a", "a/x"}, []string{"a"}},
		{"siblings kept", []string{"b", "a/x", "a/y"}, []string{"a/x", "a/y", "b"}},
		{"prefix is not parent", []string{"ab", "a", "a-b/c"}, []string{"a", "a-b/c", "ab"}},
		{"slash sorts first", []string{"a-b", "a/c", "a", "a.b/c"}, []string{"a", "a-b", "a.b/c"}},
		{"root covers all", []string{"x/y", "", "z"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := ReduceScopes(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("ReduceScopes(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("ReduceScopes modified its argument: %q, was %q", tt.in, in)
			}
		})
	}
}
