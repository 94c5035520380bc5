//go:build !unix

package server

// checkWritable does nothing here: access(2) is Unix's; changes fail
// with the cause if the root is not writable.
func (s *Server) checkWritable() {}
