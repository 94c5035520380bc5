package server

import (
	"fmt"
	"slices"
	"testing"
)

// TestGetManifestRepeatedScopes checks that a request naming a directory
// a thousand times, and paths below it as often, lists each entry once
// and scans each subtree once: its cost follows the tree, not the
// request.
func TestGetManifestRepeatedScopes(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	for i := range 20 {
		writeFile(t, env.root, fmt.Sprintf("d/%02d", i), []byte{byte(i)})
		writeFile(t, env.root, fmt.Sprintf("d/sub/%02d", i), []byte{byte(i)})
	}
	writeFile(t, env.root, "e/f", []byte("f"))
	writeFile(t, env.root, "other", []byte("o"))

	var scopes []string
	for range 1000 {
		scopes = append(scopes, "d", "d/sub", "d/sub/07")
	}
	scopes = append(scopes, "e/f", "e", "e")
	before := env.srv.stats.scans.Load()
	entries, _, err := env.manifest(t, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	if n := env.srv.stats.scans.Load() - before; n != 2 {
		t.Errorf("%d scans for %d scopes, want 2 (d and e)", n, len(scopes))
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.GetPath())
	}
	want := []string{"d"}
	for i := range 20 {
		want = append(want, fmt.Sprintf("d/%02d", i))
	}
	want = append(want, "d/sub")
	for i := range 20 {
		want = append(want, fmt.Sprintf("d/sub/%02d", i))
	}
	want = append(want, "e", "e/f")
	if !slices.Equal(got, want) {
		t.Errorf("paths = %q,\nwant %q", got, want)
	}
}
