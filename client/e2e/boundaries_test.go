package e2e_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces the design card's import rules: engine knows
// nothing of the network or of either side, and the sides never import each
// other.
func TestPackageBoundaries(t *testing.T) {
	const mod = "github.com/dirsync/dirsync/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"engine", []string{mod + "gen", mod + "server", mod + "client", "connectrpc.com/", "net/http", "github.com/fsnotify/", "google.golang.org/protobuf"}},
		// The server watches its root with fsnotify to report drift.
		{"server/...", []string{mod + "client"}},
		{"client", []string{mod + "server"}},
		{"client/cmd/...", []string{mod + "server"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", mod+tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, bad := range tt.forbidden {
					if strings.HasPrefix(dep, bad) {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
