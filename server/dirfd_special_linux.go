package server

import (
	"io/fs"
	"runtime"

	"golang.org/x/sys/unix"
)

// mkfifo makes the named pipe name with the permission bits perm, less
// the umask, failing if anything has the name already.
func (d *dirFile) mkfifo(name string, perm uint32) error {
	err := unix.Mkfifoat(d.fd, name, perm)
	runtime.KeepAlive(d.f)
	if err != nil {
		return &fs.PathError{Op: "mkfifoat", Path: name, Err: err}
	}
	return nil
}

// mknod makes the device name, a character device if char is set and a
// block device otherwise, with the given numbers and permission bits
// perm, less the umask, failing if anything has the name already.
func (d *dirFile) mknod(name string, char bool, perm, major, minor uint32) error {
	typ := uint32(unix.S_IFBLK)
	if char {
		typ = unix.S_IFCHR
	}
	err := unix.Mknodat(d.fd, name, typ|perm, int(unix.Mkdev(major, minor)))
	runtime.KeepAlive(d.f)
	if err != nil {
		return &fs.PathError{Op: "mknodat", Path: name, Err: err}
	}
	return nil
}
