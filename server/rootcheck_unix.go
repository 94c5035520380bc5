//go:build unix

package server

import "golang.org/x/sys/unix"

// checkWritable logs a warning when the server cannot make entries in its
// root: the user lacks write or search permission on it, its file system
// is mounted read-only, or it is immutable. Every change would then fail,
// each with a message naming the cause.
//
// It asks the kernel with access(2), which refuses a read-only mount and
// an immutable directory even to root, and leaves the tree as it was; a
// probe file would also prove the disk is not full, but creating and
// removing it changes the root's mtime, which a mirror compares. Neither
// foresees a disk that fills up later.
func (s *Server) checkWritable() {
	if err := unix.Access(s.rootPath, unix.W_OK|unix.X_OK); err != nil {
		s.log.Warn("root is not writable: every change will fail until it is", "root", s.rootPath, "error", err)
	}
}
