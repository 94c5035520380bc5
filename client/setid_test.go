package client

import (
	"testing"

	"github.com/dirsync/dirsync/engine"
)

func TestWithoutSetid(t *testing.T) {
	tests := []struct {
		name      string
		in        engine.Manifest
		wantModes []uint32
		wantCount int
	}{
		{"none", engine.Manifest{{Path: "a", Type: engine.TypeFile, Mode: 0o755}}, []uint32{0o755}, 0},
		{"file and dir", engine.Manifest{
			{Path: "d", Type: engine.TypeDir, Mode: 0o3775},
			{Path: "d/f", Type: engine.TypeFile, Mode: 0o4755},
			{Path: "d/g", Type: engine.TypeFile, Mode: 0o644},
		}, []uint32{0o775, 0o755, 0o644}, 2},
		{"symlink left alone", engine.Manifest{{Path: "l", Type: engine.TypeSymlink, Mode: 0o7777}}, []uint32{0o7777}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]uint32, len(tt.in))
			for i, e := range tt.in {
				before[i] = e.Mode
			}
			if n := countSetid(tt.in); n != tt.wantCount {
				t.Errorf("countSetid = %d, want %d", n, tt.wantCount)
			}
			got := withoutSetid(tt.in)
			for i, e := range got {
				if e.Mode != tt.wantModes[i] {
					t.Errorf("%s: mode %#o, want %#o", e.Path, e.Mode, tt.wantModes[i])
				}
				if tt.in[i].Mode != before[i] {
					t.Errorf("%s: input changed to %#o", e.Path, tt.in[i].Mode)
				}
			}
		})
	}
}
