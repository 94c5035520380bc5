package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// uploadBufferSize is the write buffer between the patcher and a
// temporary file.
const uploadBufferSize = 256 << 10

// uploadBuffers holds the write buffers of files being received, so that
// small files do not each allocate one, and files waiting for their group
// commit hold none.
var uploadBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, uploadBufferSize) }}

// fileUpload is the state of one file on an Upload stream, from its header
// to its finish. The file is built in a temporary file next to its target
// and renamed into place only once verified. The first failure is sticky:
// it releases the file's resources at once, and the remaining operations
// are skipped. A fileUpload is used by one goroutine.
type fileUpload struct {
	s    *Server
	rel  string
	want engine.Entry

	unlock func()   // releases the path lock; nil when not held
	dir    *os.Root // the parent directory of rel; nil until opened
	// releaseDir gives dir back to the stream's [dirCache]; nil when
	// dir is the file's own handle, closed with the file.
	releaseDir func()
	// dirFile is dir for the *at calls, or nil: then dir serves.
	dirFile *dirFile
	name    string   // the base name of rel, in dir
	base    *os.File // current copy the delta refers to, or nil
	tmp     *os.File // temporary file being written, or nil
	tmpName string   // name of tmp in dir
	// modeSet is set when tmp was created with the file's final
	// permissions, and needs no chmod; see [createPerm].
	modeSet bool
	// opened is tmp's place in the order the server opened temporary
	// files; see [syncRound.add].
	opened uint64
	// dev is the device number of tmp's file system, set by stat.
	dev uint64
	// wb writes tmp, leaving its zero blocks as holes; see
	// [writebackWriter.finish].
	wb  *writebackWriter
	out *sizeLimitWriter
	// buf buffers what goes into tmp: a pooled *bufio.Writer, or for a
	// large file a *pipeWriter; see [fileUpload.releaseBuffer].
	buf     flushWriter
	patcher *engine.Patcher
	literal int64   // literal bytes applied
	resumed int64   // bytes taken from a kept partial upload
	written int64   // bytes of the verified file
	placed  content // the file in place, once committed
	// statted is set once stat has recorded dev and placed.
	statted bool
	// fresh is set once placeNew has put the file in place, a new name
	// whose data the kernel writes back in its own time.
	fresh bool
	// reserved is the temporary space reserved for the file, released
	// with it.
	reserved int64
	// observedNs is when the client saw the file change (Unix ns, its
	// clock), 0 if it did not say; see [Metrics.observeSync].
	observedNs int64

	err error // first failure
}

// beginUpload starts the file that hdr describes: it validates the header,
// locks the path, checks the base of a delta and creates the temporary
// file. The file's directory comes from dirs. A failure is recorded in
// the returned fileUpload.
func (s *Server) beginUpload(ctx context.Context, hdr *dirsyncv1.UploadHeader, dirs *dirCache) *fileUpload {
	u := &fileUpload{s: s, rel: entryPath(hdr.GetEntry()), observedNs: hdr.GetObservedAtNs()}
	if err := u.begin(ctx, hdr, dirs); err != nil {
		u.fail(err)
	}
	return u
}

// begin does the work of [Server.beginUpload].
func (u *fileUpload) begin(ctx context.Context, hdr *dirsyncv1.UploadHeader, dirs *dirCache) error {
	s := u.s
	want, err := entryFromProto(hdr.GetEntry(), engine.TypeFile)
	if err != nil {
		return err
	}
	if err := checkPath(want.Path); err != nil {
		return err
	}
	want.Mode = s.keptMode(want)
	switch {
	case want.Type != engine.TypeFile:
		return invalidf("upload of %q: entry type must be FILE", want.Path)
	}
	if err := checkFileSize(want.Path, want.Size, s.maxFile); err != nil {
		return err
	}
	u.want = want
	if err := s.reserveTemp(want.Path, want.Size); err != nil {
		return err
	}
	u.reserved = want.Size

	unlock, err := s.locks.lock(ctx, u.rel)
	if err != nil {
		return err
	}
	u.unlock = unlock
	// A delta needs its base, so its parents must exist already.
	opened := s.ownChange(u.rel) // the parents it may create
	u.dir, u.dirFile, u.releaseDir, err = dirs.open(u.rel, engine.ParentPath(u.rel), hdr.GetBase() == nil)
	opened()
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("upload of %q: base is gone: %w", u.rel, errBaseChanged)
	}
	if err != nil {
		return err
	}
	u.name = path.Base(u.rel)

	var base io.ReaderAt = bytes.NewReader(nil)
	layout := engine.Layout{BlockSize: engine.MinBlockSize}
	if b := hdr.GetBase(); b != nil {
		if len(b.GetSha256()) != 32 {
			return invalidf("upload of %q: base sha256 of %d bytes, want 32", u.rel, len(b.GetSha256()))
		}
		size, err := u.openBase([32]byte(b.GetSha256()))
		if err != nil {
			return err
		}
		base = u.base
		layout = engine.Layout{BlockSize: int(b.GetBlockSize()), FileSize: size}
	}

	u.out = &sizeLimitWriter{limit: want.Size, rel: u.rel}
	u.patcher, err = engine.NewPatcher(base, layout, u.out)
	if err != nil {
		return fmt.Errorf("upload of %q: %w", u.rel, err)
	}
	if r := hdr.GetResume(); r != nil {
		if r.GetOffset() < 1 || r.GetOffset() > want.Size || len(r.GetSha256()) != 32 {
			return invalidf("upload of %q: resume from offset %d with a %d-byte sha256, want 1 to %d and 32",
				u.rel, r.GetOffset(), len(r.GetSha256()), want.Size)
		}
		u.tmp, u.tmpName, err = u.claimPartial(r.GetOffset(), [32]byte(r.GetSha256()))
		u.resumed = r.GetOffset()
		u.out.n = r.GetOffset()
	} else {
		perm, final := createPerm(want.Mode)
		u.tmp, u.tmpName, err = s.createTempIn(u.dir, u.dirFile, perm)
		u.modeSet = final && u.dirFile != nil // without dirFile, it is 0600
	}
	if err != nil {
		return err
	}
	u.opened = s.tempSeq.Add(1)
	// A resumed file continues after the kept bytes: writeback starts
	// there.
	wb := &writebackWriter{f: u.tmp, started: u.resumed, written: u.resumed}
	u.wb = wb
	file := s.fileWriter(wb)
	if want.Size-u.resumed >= pipeMinFile {
		// Whole chunks of a pipeWriter are aligned for O_DIRECT.
		wb.direct = u.resumed%directAlign == 0 && setDirect(u.tmp, true)
		u.buf = newPipeWriter(file)
	} else {
		bw := uploadBuffers.Get().(*bufio.Writer)
		bw.Reset(file)
		u.buf = bw
		u.out.whole = file
	}
	u.out.w = u.buf
	return nil
}

// openBase opens the current file at u.rel as the base of a delta and
// checks that it still has the SHA-256 sum. It returns the base's size.
func (u *fileUpload) openBase(sum [32]byte) (int64, error) {
	s := u.s
	info, err := u.dir.Lstat(u.name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("upload of %q: base is gone: %w", u.rel, errBaseChanged)
	}
	if err != nil {
		return 0, fmt.Errorf("lstat base %q: %w", u.rel, err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("upload of %q: base is no longer a regular file: %w", u.rel, errBaseChanged)
	}
	f, err := u.dir.Open(u.name)
	if err != nil {
		return 0, fmt.Errorf("open base %q: %w", u.rel, err)
	}
	u.base = f
	c, err := s.contentOf(u.rel, f)
	if err != nil {
		return 0, err
	}
	if c.sum != sum {
		return 0, fmt.Errorf("upload of %q: %w", u.rel, errBaseChanged)
	}
	return c.size, nil
}

// zstdLiteralBuffers holds the buffers compressed literals are
// decompressed into.
var zstdLiteralBuffers = sync.Pool{New: func() any { return new([engine.MaxZstdLiteralSize]byte) }}

// apply applies the operations of one message, unless the file failed.
func (u *fileUpload) apply(ops []*dirsyncv1.DeltaOp) {
	for _, pop := range ops {
		if u.err != nil {
			return
		}
		if zl := pop.GetZstdLiteral(); zl != nil {
			u.applyZstd(zl)
			continue
		}
		op, err := opFromProto(pop)
		if err != nil {
			u.fail(invalidf("upload of %q: %v", u.rel, err))
			return
		}
		if op.Kind == engine.OpZeros && op.Count > u.out.limit-u.out.n {
			// Refused before a byte is written, as a compressed
			// literal's size is.
			u.fail(u.out.tooLarge())
			return
		}
		u.applyOp(op)
	}
}

// applyOp applies one operation and counts its literal bytes; a failure
// is recorded in the file.
func (u *fileUpload) applyOp(op engine.Op) {
	if err := u.patcher.Apply(op); err != nil {
		if u.out.exceeded {
			err = u.out.tooLarge()
		}
		u.fail(fmt.Errorf("apply %v: %w", op, err))
		return
	}
	if op.Kind == engine.OpLiteral {
		u.literal += int64(len(op.Data))
	}
}

// applyZstd decompresses a compressed literal and applies its bytes as
// literals.
func (u *fileUpload) applyZstd(zl *dirsyncv1.ZstdLiteral) {
	if int64(zl.GetSize()) > u.out.limit-u.out.n {
		u.fail(u.out.tooLarge())
		return
	}
	buf := zstdLiteralBuffers.Get().(*[engine.MaxZstdLiteralSize]byte)
	defer zstdLiteralBuffers.Put(buf)
	data, err := engine.DecompressLiteral(buf[:0], zl.GetFrame(), int(zl.GetSize()))
	if err != nil {
		u.fail(invalidf("upload of %q: %v", u.rel, err))
		return
	}
	for len(data) > 0 && u.err == nil {
		chunk := data[:min(len(data), engine.MaxLiteralSize)]
		data = data[len(chunk):]
		u.applyOp(engine.Op{Kind: engine.OpLiteral, Data: chunk})
	}
}

// verify checks the size and SHA-256 of the written file, flushes it and
// gives it its mode and mtime, ready for [committer] to make it durable and
// put it in place. finishSum is the SHA-256 the finishing message carried,
// if any: it stands in for the header's when that had none. A failure is
// recorded and releases the file.
func (u *fileUpload) verify(finishSum []byte) {
	if u.err != nil {
		return
	}
	if err := u.settleSum(finishSum); err != nil {
		u.fail(err)
		return
	}
	if err := u.prepare(); err != nil {
		u.fail(err)
		return
	}
	u.written = u.patcher.Written()
	u.patcher = nil // drops its copy buffer while the file awaits its commit
	u.releaseBuffer()
	if u.base != nil {
		u.base.Close()
		u.base = nil
	}
}

// releaseBuffer drops the file's write buffer, unflushed: a bufio.Writer
// goes back to the pool, a pipeWriter stops, after which the temporary
// file is no longer written.
func (u *fileUpload) releaseBuffer() {
	switch w := u.buf.(type) {
	case *bufio.Writer:
		w.Reset(nil)
		uploadBuffers.Put(w)
	case *pipeWriter:
		w.close()
	}
	u.buf = nil
}

// settleSum decides the SHA-256 the file must have, from its header and
// from finishSum, the one its finishing message carried.
func (u *fileUpload) settleSum(finishSum []byte) error {
	switch {
	case len(finishSum) == 0 && !u.want.HasSHA256:
		return invalidf("upload of %q: no sha256, neither in the header nor with the finish", u.rel)
	case len(finishSum) == 0:
		return nil
	case len(finishSum) != sha256.Size:
		return invalidf("upload of %q: finish sha256 of %d bytes, want %d", u.rel, len(finishSum), sha256.Size)
	case u.want.HasSHA256 && [sha256.Size]byte(finishSum) != u.want.SHA256:
		return invalidf("upload of %q: the finish's sha256 differs from the header's", u.rel)
	}
	u.want.SHA256, u.want.HasSHA256 = [sha256.Size]byte(finishSum), true
	return nil
}

// prepare does the work of verify.
func (u *fileUpload) prepare() error {
	if n := u.patcher.Written(); n != u.want.Size {
		return invalidf("upload of %q: operations produced %d bytes, header declares %d", u.rel, n, u.want.Size)
	}
	if err := u.patcher.Finish(u.want.SHA256); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := u.buf.Flush(); err != nil {
		return fmt.Errorf("write %q: %w", u.rel, err)
	}
	if err := u.wb.finish(); err != nil {
		return fmt.Errorf("write %q: %w", u.rel, err)
	}
	if !u.modeSet {
		if err := u.tmp.Chmod(engine.FileMode(u.want.Mode)); err != nil {
			return fmt.Errorf("chmod %q: %w", u.rel, err)
		}
	}
	mtime := time.Unix(0, u.want.MtimeNs)
	err := setOpenMtime(u.tmp, mtime)
	switch {
	case !errors.Is(err, errors.ErrUnsupported):
	case u.dirFile != nil:
		err = u.dirFile.setMtime(u.tmpName, mtime)
	default:
		err = u.dir.Chtimes(u.tmpName, time.Time{}, mtime)
	}
	if err != nil {
		return fmt.Errorf("set mtime of %q: %w", u.rel, err)
	}
	return nil
}

// response releases the file's resources and returns its answer, once the
// file is in place or has failed, and counts it in the statistics.
func (u *fileUpload) response() *dirsyncv1.UploadResponse {
	u.release()
	s := u.s
	resp := &dirsyncv1.UploadResponse{}
	resp.Path, resp.RawPath = engine.WirePath(u.rel)
	if u.err != nil {
		resp.Code, resp.Message = s.resultCode("upload", u.rel, u.err)
		s.stats.failures.Add(1)
		s.log.Info("upload failed", "path", u.rel, "code", connect.Code(resp.Code).String(), "message", resp.Message)
		return resp
	}
	resp.LiteralBytes = u.literal
	resp.ResumedBytes = u.resumed
	resp.MatchedBytes = u.written - u.literal - u.resumed
	s.stats.filesWritten.Add(1)
	s.stats.literalBytes.Add(resp.LiteralBytes)
	s.stats.deltaSavedBytes.Add(resp.MatchedBytes)
	s.stats.changed()
	s.metrics.observeSync(s.tenant, u.observedNs)
	s.log.Debug("file written", "path", u.rel, "bytes", u.written,
		"literal_bytes", resp.LiteralBytes, "matched_bytes", resp.MatchedBytes, "resumed_bytes", resp.ResumedBytes)
	return resp
}

// fail records err as the file's failure, if it is the first, and
// releases the file's resources.
func (u *fileUpload) fail(err error) {
	if u.err == nil {
		u.err = err
	}
	u.release()
}

// release closes the base, removes an uncommitted temporary file and
// unlocks the path. It may be called more than once.
func (u *fileUpload) release() {
	u.releaseBuffer()
	if u.base != nil {
		u.base.Close()
		u.base = nil
	}
	if u.tmp != nil || u.tmpName != "" {
		u.s.discardTemp(u.dir, u.tmp, u.tmpName)
		u.tmp, u.tmpName = nil, ""
	}
	switch {
	case u.releaseDir != nil:
		u.releaseDir()
		u.dir, u.dirFile, u.releaseDir = nil, nil, nil
	case u.dir != nil:
		u.dir.Close()
		u.dir = nil
	}
	if u.unlock != nil {
		u.unlock()
		u.unlock = nil
	}
	if u.reserved != 0 {
		u.s.temp.release(u.reserved)
		u.reserved = 0
	}
}

// sizeLimitWriter passes writes on to w until they would exceed limit
// bytes in total, the size the upload's header declared. Since that size
// has passed [checkFileSize] and reserved its temporary space, the bytes
// actually written stay within both limits whatever the operations say.
type sizeLimitWriter struct {
	w io.Writer
	// whole, if set, is the file under w's buffer, which takes a write of
	// the whole file at once as it is: most small files come as one
	// literal, and copying each into the buffer before writing it out
	// cost the server 1% of its CPU time in an initial sync of 20,000
	// files (perf).
	whole    io.Writer
	limit    int64
	n        int64
	rel      string
	exceeded bool
}

// Write writes p, or fails without writing if p would exceed the limit.
func (w *sizeLimitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.limit-w.n {
		w.exceeded = true
		return 0, w.tooLarge()
	}
	out := w.w
	if w.whole != nil && w.n == 0 && int64(len(p)) == w.limit {
		// Nothing is buffered yet, and nothing can follow.
		out = w.whole
	}
	n, err := out.Write(p)
	w.n += int64(n)
	return n, err
}

// tooLarge returns the error of a file that exceeds its declared size.
func (w *sizeLimitWriter) tooLarge() error {
	return invalidf("upload of %q: operations produce more than the %d bytes the header declares", w.rel, w.limit)
}
