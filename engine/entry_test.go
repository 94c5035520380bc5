package engine

import (
	"errors"
	"io/fs"
	"testing"
	"time"
)

func TestEntryTypeString(t *testing.T) {
	tests := []struct {
		in   EntryType
		want string
	}{
		{TypeFile, "file"},
		{TypeDir, "dir"},
		{TypeSymlink, "symlink"},
		{0, "EntryType(0)"},
		{9, "EntryType(9)"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("EntryType(%d).String() = %q, want %q", uint8(tt.in), got, tt.want)
		}
	}
}

func TestModeBits(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		bits uint32
	}{
		{0, 0},
		{0o644, 0o644},
		{0o755, 0o755},
		{0o777, 0o777},
		{fs.ModeSetuid | 0o755, 0o4755},
		{fs.ModeSetgid | 0o750, 0o2750},
		{fs.ModeSticky | 0o777, 0o1777},
		{fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, 0o7777},
	}
	for _, tt := range tests {
		if got := ModeBits(tt.mode); got != tt.bits {
			t.Errorf("ModeBits(%v) = %#o, want %#o", tt.mode, got, tt.bits)
		}
		if got := ModeBits(tt.mode | fs.ModeDir); got != tt.bits {
			t.Errorf("ModeBits(%v) = %#o, want %#o", tt.mode|fs.ModeDir, got, tt.bits)
		}
		if got := FileMode(tt.bits); got != tt.mode {
			t.Errorf("FileMode(%#o) = %v, want %v", tt.bits, got, tt.mode)
		}
	}
	if got := FileMode(0o17777); got != FileMode(0o7777) {
		t.Errorf("FileMode(0o17777) = %v, want %v", got, FileMode(0o7777))
	}
}

// fakeInfo is an fs.FileInfo with chosen fields.
type fakeInfo struct {
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (f fakeInfo) Name() string       { return "x" }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return f.mtime }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

func TestEntryFromInfo(t *testing.T) {
	mtime := time.Unix(1700000000, 123456789)
	ns := mtime.UnixNano()
	tests := []struct {
		name   string
		info   fakeInfo
		target string
		want   Entry
		err    error
	}{
		{"file", fakeInfo{0o640, 42, mtime}, "ignored",
			Entry{Path: "p", Type: TypeFile, Mode: 0o640, Size: 42, MtimeNs: ns}, nil},
		{"setuid file", fakeInfo{fs.ModeSetuid | 0o755, 1, mtime}, "",
			Entry{Path: "p", Type: TypeFile, Mode: 0o4755, Size: 1, MtimeNs: ns}, nil},
		{"dir", fakeInfo{fs.ModeDir | fs.ModeSticky | 0o777, 4096, mtime}, "",
			Entry{Path: "p", Type: TypeDir, Mode: 0o1777, MtimeNs: ns}, nil},
		{"symlink", fakeInfo{fs.ModeSymlink | 0o777, 7, mtime}, "../t",
			Entry{Path: "p", Type: TypeSymlink, Mode: 0o777, MtimeNs: ns, LinkTarget: "../t"}, nil},
		{"fifo", fakeInfo{fs.ModeNamedPipe | 0o644, 0, mtime}, "",
			Entry{Path: "p", Type: TypeFIFO, Mode: 0o644, MtimeNs: ns}, nil},
		{"socket", fakeInfo{fs.ModeSocket | 0o644, 0, mtime}, "", Entry{}, ErrUnsupportedType},
		// fakeInfo carries no stat, so no device numbers.
		{"device without numbers", fakeInfo{fs.ModeDevice | 0o644, 0, mtime}, "", Entry{}, ErrUnsupportedType},
		{"char device without numbers", fakeInfo{fs.ModeDevice | fs.ModeCharDevice | 0o644, 0, mtime}, "", Entry{}, ErrUnsupportedType},
		{"irregular", fakeInfo{fs.ModeIrregular, 0, mtime}, "", Entry{}, ErrUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EntryFromInfo("p", tt.info, tt.target)
			if !errors.Is(err, tt.err) {
				t.Fatalf("EntryFromInfo(%v) error = %v, want %v", tt.info.mode, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("EntryFromInfo(%v) = %+v, want %+v", tt.info.mode, got, tt.want)
			}
		})
	}
}
