package engine

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrUnsupportedType reports a file system item that dirsync does not sync:
// a socket, or anything else that is neither a regular file, a
// directory, a symbolic link, a named pipe nor a device.
var ErrUnsupportedType = errors.New("unsupported file type")

// EntryType is the kind of item an [Entry] describes. The zero value is not a
// valid type, so an entry decoded from an unset field is rejected by
// [Manifest.Validate].
type EntryType uint8

// The entry types. Their values are stable: they travel on the wire.
const (
	TypeFile     EntryType = 1 // a regular file
	TypeDir      EntryType = 2 // a directory
	TypeSymlink  EntryType = 3 // a symbolic link, never followed
	TypeFIFO     EntryType = 4 // a named pipe, never opened
	TypeCharDev  EntryType = 5 // a character device, never opened
	TypeBlockDev EntryType = 6 // a block device, never opened
)

// String returns "file", "dir", "symlink", "fifo", "char device",
// "block device", or "EntryType(n)" for an unknown value.
func (t EntryType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeFIFO:
		return "fifo"
	case TypeCharDev:
		return "char device"
	case TypeBlockDev:
		return "block device"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// valid reports whether t is one of the known types.
func (t EntryType) valid() bool {
	return t == TypeFile || t == TypeDir || t == TypeSymlink || t.Special()
}

// Special reports whether t is a named pipe or a device: an item with no
// content, made whole by its type, mode and (for a device) numbers.
func (t EntryType) Special() bool {
	return t == TypeFIFO || t == TypeCharDev || t == TypeBlockDev
}

// Entry describes one item of a tree. An Entry is a plain value: copying it
// is safe, and it holds no open file.
type Entry struct {
	// Path is slash-separated, relative and canonical (see [ValidatePath]).
	// It is never "": the root of the tree is not an entry.
	Path string
	// Type is the kind of item.
	Type EntryType
	// Mode holds the permission bits with setuid, setgid and sticky, in
	// Unix numbering: at most 0o7777 (see [ModeBits]). It is not compared
	// for symlinks, whose permissions mean nothing on most systems.
	Mode uint32
	// Size is the length in bytes of a regular file; it is 0 for
	// directories and symlinks.
	Size int64
	// MtimeNs is the modification time in Unix nanoseconds; a symlink's
	// is the link's own.
	MtimeNs int64
	// LinkTarget is the target text of a symlink, never resolved; it is ""
	// for other types.
	LinkTarget string
	// SHA256 is the whole-file hash of a regular file when HasSHA256 is
	// set. Scan does not fill it; see [HashFile].
	SHA256 [32]byte
	// HasSHA256 reports whether SHA256 holds a hash. Only regular files
	// carry one.
	HasSHA256 bool
	// HardlinkTarget, for a regular file that shares its inode with
	// another file of the same manifest listed before it, is the path of
	// the first of them in path order, the set's primary (see
	// [GroupHardLinks]); "" otherwise. A receiver makes the file a hard
	// link to that path instead of receiving its content.
	HardlinkTarget string
	// linkID is the device and inode of a regular file that had more than
	// one link when a scan listed it; zero otherwise.
	linkID FileID
	// DevMajor and DevMinor are the numbers of a character or block
	// device; 0 for other types.
	DevMajor, DevMinor uint32
}

// Unix numbering of the special mode bits.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
	modeMask   = 0o7777
)

// ModeBits converts m to Unix permission bits: the nine rwx bits plus
// setuid (0o4000), setgid (0o2000) and sticky (0o1000). The type bits of m
// are dropped.
func ModeBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= modeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		bits |= modeSetgid
	}
	if m&fs.ModeSticky != 0 {
		bits |= modeSticky
	}
	return bits
}

// FileMode is the inverse of [ModeBits]: it turns Unix permission bits into
// an fs.FileMode suitable for os.Chmod. Bits above 0o7777 are ignored.
func FileMode(bits uint32) fs.FileMode {
	m := fs.FileMode(bits & 0o777)
	if bits&modeSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if bits&modeSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if bits&modeSticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// EntryFromInfo builds the Entry for rel from info, which must come from
// lstat (os.Lstat or fs.DirEntry.Info), so that a symlink describes the link
// itself. linkTarget is the result of os.Readlink for a symlink and is
// ignored otherwise. EntryFromInfo does not hash files and does not validate
// rel. It returns an error wrapping [ErrUnsupportedType] for sockets,
// other irregular files, and devices whose numbers info does not carry.
func EntryFromInfo(rel string, info fs.FileInfo, linkTarget string) (Entry, error) {
	m := info.Mode()
	e := Entry{
		Path:    rel,
		Mode:    ModeBits(m),
		MtimeNs: info.ModTime().UnixNano(),
	}
	switch m.Type() {
	case 0:
		e.Type = TypeFile
		e.Size = info.Size()
	case fs.ModeDir:
		e.Type = TypeDir
	case fs.ModeSymlink:
		e.Type = TypeSymlink
		e.LinkTarget = linkTarget
	case fs.ModeNamedPipe:
		e.Type = TypeFIFO
	case fs.ModeDevice | fs.ModeCharDevice, fs.ModeDevice:
		e.Type = TypeBlockDev
		if m&fs.ModeCharDevice != 0 {
			e.Type = TypeCharDev
		}
		var ok bool
		if e.DevMajor, e.DevMinor, ok = deviceNumbers(info); !ok {
			return Entry{}, fmt.Errorf("%w: %s without device numbers", ErrUnsupportedType, typeName(m))
		}
	default:
		return Entry{}, fmt.Errorf("%w: %s", ErrUnsupportedType, typeName(m))
	}
	return e, nil
}

// typeName names the type bits of an irregular file for error messages.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return fmt.Sprintf("mode %v", m.Type())
}
