package client

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
		{"child dropped", []string{"a/b/c", "a", "a/b"}, []string{"a"}},
		{"siblings kept", []string{"b", "a/x", "a/y"}, []string{"a/x", "a/y", "b"}},
		{"prefix is not parent", []string{"ab", "a", "a-b/c"}, []string{"a", "a-b/c", "ab"}},
		{"root covers all", []string{"x/y", "", "z"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reduceScopes(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("reduceScopes(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
