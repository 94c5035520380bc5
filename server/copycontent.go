package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/dirsync/dirsync/engine"
)

// maxCopySources is the most holders of a content that copyContent tries:
// a holder that turns out stale leaves the index, so the next lookup
// finds others, and a change costs the same however many files share the
// content.
const maxCopySources = 8

// errStaleSource reports that an indexed path no longer holds the content
// the index recorded for it.
var errStaleSource = errors.New("source no longer holds the content")

// copyContent makes e.Path a regular file with e's mode and mtime from
// content the server already holds under e.SHA256, and returns the bytes
// it did not have to receive. It fails with NotFound when no file under
// the root has that content.
func (s *Server) copyContent(parent *os.Root, e engine.Entry) (int64, error) {
	if !e.HasSHA256 {
		return 0, invalidf("copy content to %q: entry has no sha256", e.Path)
	}
	if c, ok := s.index.get(e.Path); ok && c.sum == e.SHA256 {
		// The file already has the content: only its metadata may
		// differ, as after a touch.
		if n, err := s.sameContent(parent, e); err == nil {
			return n, nil
		}
	}
	for _, src := range s.index.holders(e.SHA256, maxCopySources) {
		if src == e.Path {
			continue // checked above
		}
		n, err := s.copyFrom(src, e)
		if errors.Is(err, errStaleSource) {
			continue
		}
		if err != nil {
			return 0, err
		}
		s.stats.filesWritten.Add(1)
		s.stats.dedupSavedBytes.Add(n)
		s.stats.changed()
		return n, nil
	}
	return 0, refuse(errNoContent, "copy content to %q: no content with that sha256 on the server", e.Path)
}

// sameContent checks that the file at e.Path, in its parent directory
// parent, holds e.SHA256 and gives it e's mode and mtime. It returns the
// file's size, the bytes it did not have to receive, or an error wrapping
// errStaleSource when the content differs.
func (s *Server) sameContent(parent *os.Root, e engine.Entry) (int64, error) {
	name := path.Base(e.Path)
	info, err := parent.Lstat(name)
	if err != nil || !info.Mode().IsRegular() {
		s.index.remove(e.Path)
		return 0, fmt.Errorf("check %q: %w", e.Path, errStaleSource)
	}
	if engine.HardLinked(info) {
		// The client sends a file that has the content already when
		// it is not linked locally as it is here: only a new copy
		// breaks the link.
		return 0, fmt.Errorf("check %q: shares its inode with another file", e.Path)
	}
	f, err := parent.Open(name)
	if err != nil {
		s.index.remove(e.Path)
		return 0, fmt.Errorf("open %q: %w: %w", e.Path, errStaleSource, err)
	}
	c, err := s.contentOf(e.Path, f)
	f.Close()
	if err != nil || c.sum != e.SHA256 {
		return 0, fmt.Errorf("check %q: %w", e.Path, errStaleSource)
	}
	if err := s.setMetadata(parent, e); err != nil {
		return 0, err
	}
	return c.size, nil
}

// copyFrom copies the file src, which the index says holds e.SHA256, into
// a temporary file, verifies it, and commits it as e. It returns an error
// wrapping errStaleSource, after correcting the index, if src turns out not
// to hold the content.
func (s *Server) copyFrom(src string, e engine.Entry) (int64, error) {
	f, err := s.root.Open(src)
	if err != nil {
		s.index.remove(src)
		return 0, fmt.Errorf("open %q: %w: %w", src, errStaleSource, err)
	}
	defer f.Close()
	c, err := s.contentOf(src, f)
	if err != nil {
		s.index.remove(src)
		return 0, fmt.Errorf("check %q: %w: %w", src, errStaleSource, err)
	}
	if c.sum != e.SHA256 {
		return 0, fmt.Errorf("check %q: %w", src, errStaleSource)
	}

	if err := s.reserveTemp(e.Path, c.size); err != nil {
		return 0, err
	}
	defer s.temp.release(c.size)
	tmp, tmpName, err := s.createTemp(s.root, engine.ParentPath(e.Path))
	if err != nil {
		return 0, err
	}
	buf := hashBuffers.Get().(*[hashBufferSize]byte)
	defer hashBuffers.Put(buf)
	h := sha256.New()
	// Through a writebackWriter, the copy of a sparse file keeps its
	// holes.
	wb := &writebackWriter{f: tmp}
	n, err := io.CopyBuffer(io.MultiWriter(s.fileWriter(wb), h), io.NewSectionReader(f, 0, c.size+1), buf[:])
	if err == nil {
		err = wb.finish()
	}
	if err != nil {
		s.discardTemp(s.root, tmp, tmpName)
		return 0, fmt.Errorf("copy %q: %w", e.Path, err)
	}
	var got [32]byte
	h.Sum(got[:0])
	if n != c.size || got != e.SHA256 {
		// src changed after it was checked: forget it and try another.
		s.discardTemp(s.root, tmp, tmpName)
		s.index.remove(src)
		return 0, fmt.Errorf("copy %q: %w", src, errStaleSource)
	}
	if _, err := s.commitFile(tmp, tmpName, e.Path, e.Mode, e.MtimeNs, got); err != nil {
		s.discardTemp(s.root, nil, tmpName)
		return 0, err
	}
	return n, nil
}
