package client

import (
	"errors"
	"testing"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// TestEntryWireForms checks that entries travel to the server and back
// unchanged, each name that is not UTF-8 in its raw field: the path, a
// symlink's target and a hard link's target.
func TestEntryWireForms(t *testing.T) {
	tests := []struct {
		name string
		e    engine.Entry
		// raw lists the raw fields that must be set.
		raw []string
	}{
		{"utf-8 hard link", engine.Entry{Path: "b", Type: engine.TypeFile, Mode: 0o644, HardlinkTarget: "a"}, nil},
		{"raw hard link target", engine.Entry{Path: "b", Type: engine.TypeFile, Mode: 0o644, HardlinkTarget: "caf\xe9"}, []string{"hardlink_target"}},
		{"raw path and target", engine.Entry{Path: "z\xff", Type: engine.TypeFile, HardlinkTarget: "caf\xe9"}, []string{"path", "hardlink_target"}},
		{"raw symlink", engine.Entry{Path: "l\xff", Type: engine.TypeSymlink, LinkTarget: "t\xe9"}, []string{"path", "link_target"}},
		{"device", engine.Entry{Path: "null", Type: engine.TypeCharDev, Mode: 0o666, DevMajor: 1, DevMinor: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := entryToProto(tt.e)
			set := map[string]bool{
				"path":            len(p.GetRawPath()) > 0,
				"link_target":     len(p.GetRawLinkTarget()) > 0,
				"hardlink_target": len(p.GetRawHardlinkTarget()) > 0,
			}
			for _, f := range tt.raw {
				if !set[f] {
					t.Errorf("raw_%s not set in %v", f, p)
				}
				delete(set, f)
			}
			for f, ok := range set {
				if ok {
					t.Errorf("raw_%s set in %v", f, p)
				}
			}
			got, err := entryFromProto(p)
			if err != nil || got != tt.e {
				t.Errorf("entryFromProto(entryToProto(%+v)) = %+v, %v", tt.e, got, err)
			}
		})
	}
	both := &dirsyncv1.Entry{Path: "b", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, HardlinkTarget: "a", RawHardlinkTarget: []byte("caf\xe9")}
	if _, err := entryFromProto(both); !errors.Is(err, engine.ErrInvalidPath) {
		t.Errorf("entryFromProto with both hard link targets: %v, want ErrInvalidPath", err)
	}
}
