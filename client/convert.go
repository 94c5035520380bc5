package client

import (
	"fmt"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// entryToProto converts an engine entry to its wire form.
func entryToProto(e engine.Entry) *dirsyncv1.Entry {
	p := &dirsyncv1.Entry{
		Path:       e.Path,
		Type:       dirsyncv1.EntryType(e.Type),
		Mode:       e.Mode,
		Size:       e.Size,
		MtimeNs:    e.MtimeNs,
		LinkTarget: e.LinkTarget,

		HardlinkTarget: e.HardlinkTarget,
	}
	if e.HasSHA256 {
		p.Sha256 = e.SHA256[:]
	}
	return p
}

// entryFromProto converts a wire entry from the server to an engine entry.
// It checks only what the conversion needs (a known type, a hash of 32
// bytes or none); [engine.Manifest.Validate] checks the rest.
func entryFromProto(p *dirsyncv1.Entry) (engine.Entry, error) {
	if p == nil {
		return engine.Entry{}, fmt.Errorf("nil entry")
	}
	var t engine.EntryType
	switch p.GetType() {
	case dirsyncv1.EntryType_ENTRY_TYPE_FILE:
		t = engine.TypeFile
	case dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY:
		t = engine.TypeDir
	case dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK:
		t = engine.TypeSymlink
	default:
		return engine.Entry{}, fmt.Errorf("entry %q: unknown type %d", p.GetPath(), p.GetType())
	}
	e := engine.Entry{
		Path:       p.GetPath(),
		Type:       t,
		Mode:       p.GetMode(),
		Size:       p.GetSize(),
		MtimeNs:    p.GetMtimeNs(),
		LinkTarget: p.GetLinkTarget(),

		HardlinkTarget: p.GetHardlinkTarget(),
	}
	switch len(p.GetSha256()) {
	case 0:
	case len(e.SHA256):
		copy(e.SHA256[:], p.GetSha256())
		e.HasSHA256 = true
	default:
		return engine.Entry{}, fmt.Errorf("entry %q: sha256 of %d bytes", p.GetPath(), len(p.GetSha256()))
	}
	return e, nil
}
