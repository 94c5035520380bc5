package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// FileID identifies a file on one machine: its device and inode numbers.
// Two FileIDs are the same file only when they come from the same machine,
// which [MachineID] tells.
type FileID struct {
	Device, Inode uint64
}

// bootIDFile holds the kernel's random identity of the current boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// MachineID returns an identity of the machine and boot this process runs
// on: the hex SHA-256 of the kernel's boot id (hashed so that the id
// itself is not handed out), or "" where there is none. Processes that
// share a kernel, containers included, get the same one; device and inode
// numbers compare only between them.
func MachineID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("dirsync machine id\x00" + id))
	return hex.EncodeToString(sum[:])
}

// DirIDs returns the FileID of the directory dir, symlinks resolved, and
// those of the directories that contain it, from its parent up to the
// file system's root. ok is false where the system has no such numbers.
func DirIDs(dir string) (self FileID, ancestors []FileID, ok bool, err error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return FileID{}, nil, false, err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return FileID{}, nil, false, err
	}
	for p := real; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return FileID{}, nil, false, err
		}
		id, ok := FileIDOf(info)
		if !ok {
			return FileID{}, nil, false, nil
		}
		if p == real {
			self = id
		} else {
			ancestors = append(ancestors, id)
		}
		if filepath.Dir(p) == p {
			return self, ancestors, true, nil
		}
	}
}
