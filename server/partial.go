package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Resumable uploads. When an Upload stream ends in the middle of a file
// that had not failed (the client went away, the connection was cut, the
// server is shutting down), the temporary file holds the start of the file
// as the patcher built it. If it is at least partialMinBytes long, the
// server keeps it under a partial name beside the target instead of
// removing it, and GetPartial tells a client its size and SHA-256. A
// client whose file starts with the same bytes resumes after them
// (UploadHeader.resume). The partial is claimed whole by that upload, so
// two uploads never share it, and the SHA-256 of the finished file still
// decides whether it is accepted: nothing in a partial is trusted.
//
// A partial is removed when its target is committed or deleted, and at
// start when it is older than partialMaxAge. Partial names start with
// tempPrefix, so peers cannot name them and listings never show them.

// partialPrefix starts the name of every kept partial upload.
const partialPrefix = tempPrefix + "partial-"

// partialMinBytes is the smallest partial upload worth keeping: below it,
// sending the bytes again costs less than the bookkeeping.
const partialMinBytes = 1 << 20

// partialMaxAge is how long a partial upload is kept across restarts: the
// server removes older ones when it starts.
const partialMaxAge = 24 * time.Hour

// errPartialGone reports that the partial upload a resumed upload names is
// no longer kept, or no longer holds the bytes the client expects.
var errPartialGone = errors.New("partial upload gone")

// isPartialName reports whether the file name name (one path component) is
// that of a kept partial upload.
func isPartialName(name string) bool {
	return strings.HasPrefix(name, partialPrefix)
}

// partialName returns the name of the partial upload of the file named
// name, in the same directory: named after a hash of the name, so that
// any valid name maps to a short, reserved one.
func partialName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return partialPrefix + hex.EncodeToString(sum[:16])
}

// partialPath returns the path from the root of the partial upload of the
// file rel.
func partialPath(rel string) string {
	return path.Join(engine.ParentPath(rel), partialName(path.Base(rel)))
}

// partials remembers the partial uploads on disk, by partial path, with
// their SHA-256 once known. It is a cache: an entry is used only while the
// file's size and mtime still match. It is safe for concurrent use.
type partials struct {
	mu sync.Mutex
	m  map[string]partialInfo
}

// partialInfo is what [partials] knows of one partial upload.
type partialInfo struct {
	content
	hashed bool // content.sum is known
}

// get returns what is known of the partial at p.
func (ps *partials) get(p string) (partialInfo, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	info, ok := ps.m[p]
	return info, ok
}

// put records the partial at p.
func (ps *partials) put(p string, info partialInfo) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = make(map[string]partialInfo)
	}
	ps.m[p] = info
}

// take forgets the partial at p and reports whether it was known.
func (ps *partials) take(p string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	_, ok := ps.m[p]
	delete(ps.m, p)
	return ok
}

// GetPartial reports the size and SHA-256 of the partial upload kept for
// the requested path, or size 0 when there is none. It waits for an upload
// of the same path that is still running, so that a client retrying right
// after a broken stream sees what that upload kept.
func (s *Server) GetPartial(ctx context.Context, req *connect.Request[dirsyncv1.GetPartialRequest]) (*connect.Response[dirsyncv1.GetPartialResponse], error) {
	rel, err := pathFromProto("path", req.Msg.GetPath(), req.Msg.GetRawPath())
	if err != nil {
		return nil, s.connectError("get partial", rel, err)
	}
	info, err := s.partialInfo(ctx, rel)
	if err != nil {
		return nil, s.connectError("get partial", rel, err)
	}
	resp := &dirsyncv1.GetPartialResponse{}
	if info.size > 0 {
		resp.Size = info.size
		resp.Sha256 = info.sum[:]
	}
	return connect.NewResponse(resp), nil
}

// partialInfo returns the partial upload of rel, hashing it if need be; a
// zero size means there is none.
func (s *Server) partialInfo(ctx context.Context, rel string) (partialInfo, error) {
	if err := checkPath(rel); err != nil {
		return partialInfo{}, err
	}
	unlock, err := s.locks.lock(ctx, rel)
	if err != nil {
		return partialInfo{}, err
	}
	defer unlock()
	p := partialPath(rel)
	if _, known := s.partials.get(p); !known {
		return partialInfo{}, nil
	}
	d, err := s.openDir(rel, engine.ParentPath(rel), false)
	if errors.Is(err, fs.ErrNotExist) {
		s.partials.take(p)
		return partialInfo{}, nil
	}
	if err != nil {
		return partialInfo{}, err
	}
	defer d.Close()
	f, err := d.OpenFile(partialName(path.Base(rel)), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		s.partials.take(p)
		return partialInfo{}, nil
	}
	if err != nil {
		return partialInfo{}, fmt.Errorf("open partial upload of %q: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return partialInfo{}, fmt.Errorf("stat partial upload of %q: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return partialInfo{}, nil
	}
	if info, ok := s.partials.get(p); ok && info.hashed && info.matches(fi.Size(), fi.ModTime().UnixNano()) {
		return info, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return partialInfo{}, fmt.Errorf("hash partial upload of %q: %w", rel, err)
	}
	info := partialInfo{content: content{size: n, mtimeNs: fi.ModTime().UnixNano()}, hashed: true}
	h.Sum(info.sum[:0])
	s.partials.put(p, info)
	return info, nil
}

// suspend ends an upload that its stream abandoned in the middle: it keeps
// the temporary file as the partial upload of the target when the file has
// not failed and is worth keeping, and releases the rest.
func (u *fileUpload) suspend() {
	defer u.release()
	if u.err != nil || u.tmp == nil || u.patcher.Written() < partialMinBytes {
		return
	}
	s := u.s
	if err := u.buf.Flush(); err != nil {
		s.log.Info("partial upload not kept", "path", u.rel, "error", err)
		return
	}
	if err := u.wb.finish(); err != nil {
		s.log.Info("partial upload not kept", "path", u.rel, "error", err)
		return
	}
	fi, err := u.tmp.Stat()
	if err != nil || fi.Size() != u.patcher.Written() {
		s.log.Info("partial upload not kept", "path", u.rel, "error", err)
		return
	}
	info := partialInfo{content: content{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano(), sum: u.patcher.Sum()}, hashed: true}
	u.tmp.Close()
	u.tmp = nil
	p := partialPath(u.rel)
	if err := u.dir.Rename(u.tmpName, partialName(u.name)); err != nil {
		s.log.Info("partial upload not kept", "path", u.rel, "error", err)
		return
	}
	u.tmpName = ""
	s.partials.put(p, info)
	s.log.Info("kept partial upload", "path", u.rel, "bytes", info.size)
}

// claimPartial takes the partial upload of u.rel for an upload that
// resumes after its first offset bytes, whose SHA-256 must be sum: it
// renames it to a fresh temporary name, cuts it to offset bytes and feeds
// them to the patcher, which must be new. It returns the open temporary
// file, positioned at offset, and its name.
func (u *fileUpload) claimPartial(offset int64, sum [32]byte) (*os.File, string, error) {
	s := u.s
	p := partialPath(u.rel)
	if !s.partials.take(p) {
		return nil, "", fmt.Errorf("resume %q: %w", u.rel, errPartialGone)
	}
	name := tempPath("")
	if err := u.dir.Rename(partialName(u.name), name); errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("resume %q: %w", u.rel, errPartialGone)
	} else if err != nil {
		return nil, "", fmt.Errorf("claim partial upload of %q: %w", u.rel, err)
	}
	f, err := u.dir.OpenFile(name, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		s.discardTemp(u.dir, nil, name)
		return nil, "", fmt.Errorf("open partial upload of %q: %w", u.rel, err)
	}
	fail := func(err error) (*os.File, string, error) {
		s.discardTemp(u.dir, f, name)
		return nil, "", err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		return fail(fmt.Errorf("stat partial upload of %q: %w", u.rel, err))
	case !fi.Mode().IsRegular() || fi.Size() < offset:
		return fail(fmt.Errorf("resume %q: %w", u.rel, errPartialGone))
	}
	if err := f.Truncate(offset); err != nil {
		return fail(fmt.Errorf("truncate partial upload of %q: %w", u.rel, err))
	}
	if _, err := u.patcher.Resume(io.NewSectionReader(f, 0, offset)); err != nil {
		return fail(fmt.Errorf("read partial upload of %q: %w", u.rel, err))
	}
	if u.patcher.Sum() != sum {
		return fail(fmt.Errorf("resume %q: kept bytes differ: %w", u.rel, errPartialGone))
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fail(fmt.Errorf("seek partial upload of %q: %w", u.rel, err))
	}
	return f, name, nil
}

// dropPartial removes the partial upload kept for rel, if any: its target
// was just written or deleted. Failures are logged; the partial then goes
// at a later start.
func (s *Server) dropPartial(rel string) {
	p := partialPath(rel)
	if !s.partials.take(p) {
		return
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("remove partial upload", "path", rel, "error", err)
	}
}

// keepPartial decides at start what to do with the leftover partial upload
// at p: one younger than partialMaxAge is kept, to be resumed; an older one
// is removed. It reports whether p was kept.
func (s *Server) keepPartial(p string, now time.Time) bool {
	fi, err := s.root.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) > partialMaxAge {
		return false
	}
	s.partials.put(p, partialInfo{content: content{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}})
	return true
}
