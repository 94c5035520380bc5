//go:build unix

package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// dirFile is an open directory that a stream writes many files into, used
// with the *at system calls on a single name: the name of a temporary
// file the server made, or of its target. Through [os.Root], creating a
// file also cost four fcntl calls and an epoll registration, setting its
// mtime a readlinkat, and renaming it two lstats: 15 system calls a file
// where the work needs six (create, write, chmod, set mtime, close,
// rename); this way it takes eight (strace of the server on 20,000 small
// files). A name with no slash, opened with O_NOFOLLOW, stays in the
// directory, so nothing here can leave the root.
type dirFile struct {
	f  *os.File
	fd int
}

// openDirFile opens the directory of d for the *at calls.
func openDirFile(d *os.Root) (*dirFile, error) {
	f, err := d.Open(".")
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	return &dirFile{f: f, fd: int(f.Fd())}, nil
}

// close closes the directory.
func (d *dirFile) close() error { return d.f.Close() }

// createExclusive creates the new file name with the permission bits
// perm, less the umask, failing if anything, a symlink included, has the
// name already.
func (d *dirFile) createExclusive(name string, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	runtime.KeepAlive(d.f)
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// processUmask is the server process's file mode creation mask, read at
// start: open(2) clears its bits from the mode of every file it creates.
var processUmask = readUmask()

// readUmask returns the umask. Reading it means setting it: for the
// moment in between, the mask is the strictest one.
func readUmask() uint32 {
	m := unix.Umask(0o777)
	unix.Umask(m)
	return uint32(m)
}

// createPerm returns the permission bits to create the temporary file of
// a file of mode bits mode with (see [engine.FileMode]), and whether they
// are the file's final ones, so that it needs no chmod once complete: a
// system call per file, 2.4% of the server's CPU time in an initial sync
// of 20,000 small files (perf). They are when they let the owner read
// and write the file, let no one else write it, hold no setuid, setgid or
// sticky bit, and survive the umask whole: then a temporary file is
// readable as the finished file will be, and writable by the server
// alone, as with 0600. Otherwise it is made 0600 and given its mode once
// verified.
func createPerm(mode uint32) (perm uint32, final bool) {
	if mode&^0o755 != 0 || mode&0o600 != 0o600 || mode&processUmask != 0 {
		return 0o600, false
	}
	return mode, true
}

// setMtime sets the modification time of name, never through a symlink,
// and leaves its access time alone.
func (d *dirFile) setMtime(name string, mtime time.Time) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
	err := unix.UtimesNanoAt(d.fd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	runtime.KeepAlive(d.f)
	if err != nil {
		return &fs.PathError{Op: "utimensat", Path: name, Err: err}
	}
	return nil
}

// renameOver renames from over to, replacing a file or symlink at to.
// Over a directory it fails, with an error for which [isDirInTheWay]
// holds.
func (d *dirFile) renameOver(from, to string) error {
	err := unix.Renameat(d.fd, from, d.fd, to)
	runtime.KeepAlive(d.f)
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: from, New: to, Err: err}
	}
	return nil
}

// isDirInTheWay reports whether a rename of a file failed because its
// target is a directory.
func isDirInTheWay(err error) bool {
	var le *os.LinkError
	if !errors.As(err, &le) {
		return false
	}
	return le.Err == unix.EISDIR || le.Err == unix.ENOTEMPTY || le.Err == unix.EEXIST
}
