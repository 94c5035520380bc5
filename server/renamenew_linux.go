package server

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// renameNew renames from to to only while nothing has the name to, with
// renameat2(2) and RENAME_NOREPLACE: one atomic step, so a file that
// appears at to meanwhile is never replaced. It fails with EEXIST when to
// is taken, and with EINVAL where the file system cannot do it.
func (d *dirFile) renameNew(from, to string) error {
	err := unix.Renameat2(d.fd, from, d.fd, to, unix.RENAME_NOREPLACE)
	runtime.KeepAlive(d.f)
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: err}
	}
	return nil
}
