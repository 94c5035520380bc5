package server

import (
	"fmt"
	"math"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// This file is the edge between engine and protobuf types. Conversions
// from protobuf validate what the peer sent, apart from paths, which the
// callers check with the rules of their operation.

// maxMode is the largest permission value on the wire: rwx bits plus
// setuid, setgid and sticky.
const maxMode = 0o7777

// entryToProto converts an engine entry to its wire form.
func entryToProto(e engine.Entry) *dirsyncv1.Entry {
	pe := &dirsyncv1.Entry{
		Type:        typeToProto(e.Type),
		Mode:        e.Mode,
		Size:        e.Size,
		MtimeNs:     e.MtimeNs,
		DeviceMajor: e.DevMajor,
		DeviceMinor: e.DevMinor,
	}
	pe.Path, pe.RawPath = engine.WirePath(e.Path)
	pe.LinkTarget, pe.RawLinkTarget = engine.WirePath(e.LinkTarget)
	pe.HardlinkTarget, pe.RawHardlinkTarget = engine.WirePath(e.HardlinkTarget)
	if e.HasSHA256 {
		pe.Sha256 = e.SHA256[:]
	}
	return pe
}

// typeToProto converts an engine entry type to its wire form.
func typeToProto(t engine.EntryType) dirsyncv1.EntryType {
	switch t {
	case engine.TypeFile:
		return dirsyncv1.EntryType_ENTRY_TYPE_FILE
	case engine.TypeDir:
		return dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY
	case engine.TypeSymlink:
		return dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK
	case engine.TypeFIFO:
		return dirsyncv1.EntryType_ENTRY_TYPE_FIFO
	case engine.TypeCharDev:
		return dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE
	case engine.TypeBlockDev:
		return dirsyncv1.EntryType_ENTRY_TYPE_BLOCK_DEVICE
	}
	return dirsyncv1.EntryType_ENTRY_TYPE_UNSPECIFIED
}

// typeFromProto converts a wire entry type; ENTRY_TYPE_UNSPECIFIED and
// unknown values give 0, which no engine type has.
func typeFromProto(t dirsyncv1.EntryType) engine.EntryType {
	switch t {
	case dirsyncv1.EntryType_ENTRY_TYPE_FILE:
		return engine.TypeFile
	case dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY:
		return engine.TypeDir
	case dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK:
		return engine.TypeSymlink
	case dirsyncv1.EntryType_ENTRY_TYPE_FIFO:
		return engine.TypeFIFO
	case dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE:
		return engine.TypeCharDev
	case dirsyncv1.EntryType_ENTRY_TYPE_BLOCK_DEVICE:
		return engine.TypeBlockDev
	}
	return 0
}

// entryFromProto converts a peer's entry, checking the fields every
// operation relies on: it is present, its type is want or unset (want 0
// accepts any type), its mode is at most 07777, its size is not negative,
// and its sha256 is empty or 32 bytes, and the raw form of its path, link
// target and hard link target is not set beside the text one. The path is not checked.
func entryFromProto(pe *dirsyncv1.Entry, want engine.EntryType) (engine.Entry, error) {
	if pe == nil {
		return engine.Entry{}, invalidf("missing entry")
	}
	p, err := engine.PathFromWire("path", pe.GetPath(), pe.GetRawPath())
	if err != nil {
		return engine.Entry{}, err
	}
	target, err := engine.PathFromWire("link_target", pe.GetLinkTarget(), pe.GetRawLinkTarget())
	if err != nil {
		return engine.Entry{}, fmt.Errorf("entry %q: %w", p, err)
	}
	hardlink, err := engine.PathFromWire("hardlink_target", pe.GetHardlinkTarget(), pe.GetRawHardlinkTarget())
	if err != nil {
		return engine.Entry{}, fmt.Errorf("entry %q: %w", p, err)
	}
	e := engine.Entry{
		Path:       p,
		Type:       typeFromProto(pe.GetType()),
		Mode:       pe.GetMode(),
		Size:       pe.GetSize(),
		MtimeNs:    pe.GetMtimeNs(),
		LinkTarget: target,
		DevMajor:   pe.GetDeviceMajor(),
		DevMinor:   pe.GetDeviceMinor(),
		// Checked by the change that uses it (make_hardlink).
		HardlinkTarget: hardlink,
	}
	switch {
	case pe.GetType() != dirsyncv1.EntryType_ENTRY_TYPE_UNSPECIFIED && e.Type == 0:
		return engine.Entry{}, invalidf("entry %q: unknown type %d", e.Path, pe.GetType())
	case want != 0 && e.Type != 0 && e.Type != want:
		return engine.Entry{}, invalidf("entry %q: type %v where %v is expected", e.Path, e.Type, want)
	case e.Mode > maxMode:
		return engine.Entry{}, invalidf("entry %q: mode %#o above 07777", e.Path, e.Mode)
	case e.Size < 0:
		return engine.Entry{}, invalidf("entry %q: negative size %d", e.Path, e.Size)
	}
	switch len(pe.GetSha256()) {
	case 0:
	case 32:
		copy(e.SHA256[:], pe.GetSha256())
		e.HasSHA256 = true
	default:
		return engine.Entry{}, invalidf("entry %q: sha256 of %d bytes, want 32", e.Path, len(pe.GetSha256()))
	}
	return e, nil
}

// opFromProto converts a peer's delta operation. It checks only what the
// conversion needs; [engine.Patcher.Apply] validates the result.
func opFromProto(op *dirsyncv1.DeltaOp) (engine.Op, error) {
	switch o := op.GetOp().(type) {
	case *dirsyncv1.DeltaOp_Copy:
		start, count := o.Copy.GetStart(), o.Copy.GetCount()
		if start > math.MaxInt64 || count > math.MaxInt64 {
			return engine.Op{}, invalidf("copy op: block run start %d count %d out of range", start, count)
		}
		return engine.Op{Kind: engine.OpCopy, Block: int64(start), Count: int64(count)}, nil
	case *dirsyncv1.DeltaOp_Literal:
		return engine.Op{Kind: engine.OpLiteral, Data: o.Literal}, nil
	case *dirsyncv1.DeltaOp_Zeros:
		if o.Zeros > math.MaxInt64 {
			return engine.Op{}, invalidf("zeros op: count %d out of range", o.Zeros)
		}
		return engine.Op{Kind: engine.OpZeros, Count: int64(o.Zeros)}, nil
	}
	return engine.Op{}, invalidf("delta op with neither copy nor literal nor zeros")
}

// entryPath returns the path of the peer's entry pe for messages and
// locks, the raw form when the text one is empty; entryFromProto checks
// it.
func entryPath(pe *dirsyncv1.Entry) string {
	if raw := pe.GetRawPath(); len(raw) > 0 {
		return string(raw)
	}
	return pe.GetPath()
}

// pathFromProto returns the path a request names in its field text and
// the raw twin of that field (see [engine.PathFromWire]), and the path
// to name in an error when they conflict.
func pathFromProto(field, text string, raw []byte) (string, error) {
	p, err := engine.PathFromWire(field, text, raw)
	if err != nil {
		return text, err
	}
	return p, nil
}
