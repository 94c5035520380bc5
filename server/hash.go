package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/dirsync/dirsync/engine"
)

// hashBufferSize is the read buffer of hashing: large enough to keep
// system calls rare, small enough that parallel hashing stays cheap.
const hashBufferSize = 128 << 10

// hashBuffers recycles hashing buffers.
var hashBuffers = sync.Pool{New: func() any { return new([hashBufferSize]byte) }}

// hashFile opens the regular file rel through the root and returns its
// content record, read from the open file so that size, mtime and hash
// agree. It records the result in the content index.
func (s *Server) hashFile(rel string) (content, error) {
	f, err := s.root.Open(rel)
	if err != nil {
		return content{}, fmt.Errorf("open %q: %w", rel, err)
	}
	defer f.Close()
	c, err := hashOpen(rel, f)
	if err != nil {
		return content{}, err
	}
	s.index.put(rel, c)
	return c, nil
}

// hashOpen hashes the open file f, named rel, from its start. It fails
// with FailedPrecondition if f is not a regular file and with Aborted if
// the file changed size while it was read.
func hashOpen(rel string, f *os.File) (content, error) {
	info, err := f.Stat()
	if err != nil {
		return content{}, fmt.Errorf("stat %q: %w", rel, err)
	}
	if !info.Mode().IsRegular() {
		return content{}, refuse(errNotRegular, "path %q: not a regular file on the server", rel)
	}
	buf := hashBuffers.Get().(*[hashBufferSize]byte)
	defer hashBuffers.Put(buf)
	h := sha256.New()
	// The section reader reads with ReadAt and leaves f's offset alone.
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, info.Size()+1), buf[:])
	if err != nil {
		return content{}, fmt.Errorf("hash %q: %w", rel, err)
	}
	if n != info.Size() {
		return content{}, refuse(errChangedMeanwhile, "path %q: changed on the server while being read", rel)
	}
	c := content{size: n, mtimeNs: info.ModTime().UnixNano()}
	h.Sum(c.sum[:0])
	return c, nil
}

// contentOf returns the content record of the open regular file f, named
// rel: from the index if the file's size and mtime still match it, else by
// hashing f, which updates the index.
func (s *Server) contentOf(rel string, f *os.File) (content, error) {
	info, err := f.Stat()
	if err != nil {
		return content{}, fmt.Errorf("stat %q: %w", rel, err)
	}
	if c, ok := s.index.get(rel); ok && info.Mode().IsRegular() && c.matches(info.Size(), info.ModTime().UnixNano()) {
		return c, nil
	}
	c, err := hashOpen(rel, f)
	if err != nil {
		return content{}, err
	}
	s.index.put(rel, c)
	return c, nil
}

// fillHashes sets the SHA-256 of every regular file of m, from the content
// index where the file's size and mtime match the record and by hashing it
// otherwise, with up to s.hashWorkers files at a time. Files that cannot
// be hashed (most often because they vanished meanwhile) are left out of
// the returned manifest; a file that changed meanwhile gets the size and
// mtime it was hashed with.
func (s *Server) fillHashes(ctx context.Context, m engine.Manifest) (engine.Manifest, error) {
	var todo []int
	for i := range m {
		e := &m[i]
		if e.Type != engine.TypeFile {
			continue
		}
		if c, ok := s.index.get(e.Path); ok && c.matches(e.Size, e.MtimeNs) {
			e.SHA256, e.HasSHA256 = c.sum, true
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return m, nil
	}

	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(s.hashWorkers, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				e := &m[i]
				c, err := s.hashFile(e.Path)
				if err != nil {
					if !errors.Is(err, fs.ErrNotExist) {
						s.log.Warn("hash file", "path", e.Path, "error", err)
					}
					continue
				}
				e.Size, e.MtimeNs = c.size, c.mtimeNs
				e.SHA256, e.HasSHA256 = c.sum, true
			}
		})
	}
feed:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	out := m[:0]
	for _, e := range m {
		if e.Type == engine.TypeFile && !e.HasSHA256 {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
