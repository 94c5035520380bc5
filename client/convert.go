package client

import (
	"fmt"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// entryToProto converts an engine entry to its wire form.
func entryToProto(e engine.Entry) *dirsyncv1.Entry {
	p := &dirsyncv1.Entry{
		Type:        dirsyncv1.EntryType(e.Type),
		Mode:        e.Mode,
		Size:        e.Size,
		MtimeNs:     e.MtimeNs,
		DeviceMajor: e.DevMajor,
		DeviceMinor: e.DevMinor,
	}
	p.Path, p.RawPath = engine.WirePath(e.Path)
	p.LinkTarget, p.RawLinkTarget = engine.WirePath(e.LinkTarget)
	p.HardlinkTarget, p.RawHardlinkTarget = engine.WirePath(e.HardlinkTarget)
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
	case dirsyncv1.EntryType_ENTRY_TYPE_FIFO:
		t = engine.TypeFIFO
	case dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE:
		t = engine.TypeCharDev
	case dirsyncv1.EntryType_ENTRY_TYPE_BLOCK_DEVICE:
		t = engine.TypeBlockDev
	default:
		return engine.Entry{}, fmt.Errorf("entry %q: unknown type %d", entryPath(p), p.GetType())
	}
	path, err := engine.PathFromWire("path", p.GetPath(), p.GetRawPath())
	if err != nil {
		return engine.Entry{}, err
	}
	target, err := engine.PathFromWire("link_target", p.GetLinkTarget(), p.GetRawLinkTarget())
	if err != nil {
		return engine.Entry{}, fmt.Errorf("entry %q: %w", path, err)
	}
	hardlink, err := engine.PathFromWire("hardlink_target", p.GetHardlinkTarget(), p.GetRawHardlinkTarget())
	if err != nil {
		return engine.Entry{}, fmt.Errorf("entry %q: %w", path, err)
	}
	e := engine.Entry{
		Path:       path,
		Type:       t,
		Mode:       p.GetMode(),
		Size:       p.GetSize(),
		MtimeNs:    p.GetMtimeNs(),
		LinkTarget: target,
		DevMajor:   p.GetDeviceMajor(),
		DevMinor:   p.GetDeviceMinor(),

		HardlinkTarget: hardlink,
	}
	switch len(p.GetSha256()) {
	case 0:
	case len(e.SHA256):
		copy(e.SHA256[:], p.GetSha256())
		e.HasSHA256 = true
	default:
		return engine.Entry{}, fmt.Errorf("entry %q: sha256 of %d bytes", path, len(p.GetSha256()))
	}
	return e, nil
}

// entryPath returns the path of the wire entry p, from whichever field
// holds it, for messages.
func entryPath(p *dirsyncv1.Entry) string {
	if raw := p.GetRawPath(); len(raw) > 0 {
		return string(raw)
	}
	return p.GetPath()
}

// namedPath returns the path a message of the server names in its path
// field and that field's raw twin.
func namedPath(m interface {
	GetPath() string
	GetRawPath() []byte
}) string {
	if raw := m.GetRawPath(); len(raw) > 0 {
		return string(raw)
	}
	return m.GetPath()
}

// deleteChange returns the change that deletes path, in the raw field
// when path is not UTF-8.
func deleteChange(path string) *dirsyncv1.Change {
	text, raw := engine.WirePath(path)
	if raw != nil {
		return &dirsyncv1.Change{Action: &dirsyncv1.Change_RawDelete{RawDelete: raw}}
	}
	return &dirsyncv1.Change{Action: &dirsyncv1.Change_Delete{Delete: text}}
}
