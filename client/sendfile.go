package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// sendFile sends one file on the stream: a delta against the server's copy
// when the job has a large enough remote file, literals otherwise, either
// of them only for the part after what the server kept of an interrupted
// upload of the file, if anything. Problems
// with the local file are reported for that file alone and sendFile
// returns nil; an error means the stream (or the connection) is broken.
func (s *upStream) sendFile(ctx context.Context, job *uploadJob) error {
	if s.packable(job) {
		return s.sendSmall(ctx, job)
	}
	c := s.u.c
	path := job.local.Path
	f, info, err := openRegular(c.abs(path))
	if err != nil {
		s.u.done(uploadResult{job: job, err: err})
		return nil
	}
	defer f.Close()
	if err := sameInfo(info, job.local); err != nil {
		s.u.done(uploadResult{job: job, err: err})
		return nil
	}

	header := &dirsyncv1.UploadHeader{Entry: entryToProto(job.local), ObservedAtNs: c.observedAt.Load()}
	var sig *engine.Signature
	if job.remote != nil && job.remote.Size >= c.deltaThreshold {
		sg, sha, err := c.fetchSignature(ctx, path, c.opts.BlockSize)
		switch {
		case err == nil:
			sig = sg
			header.Base = &dirsyncv1.DeltaBase{Sha256: sha, BlockSize: uint32(sg.BlockSize)}
		case transient(err) || ctx.Err() != nil:
			s.u.done(uploadResult{job: job, err: err})
			return err
		default:
			c.log.Debug("no delta base, sending literals", "path", path, "err", err)
		}
	}

	// The server may have kept the start of this file from an upload
	// that broke off; h then holds the hash of that start, and f is
	// positioned after it.
	h := sha256.New()
	resume, err := c.findResume(ctx, f, job.local, h)
	if err != nil {
		s.u.done(uploadResult{job: job, err: err})
		return err
	}
	var offset int64
	if resume != nil {
		header.Resume = resume
		offset = resume.GetOffset()
	}

	fl, err := s.admit(ctx, job, min(job.local.Size-offset, maxInflightBytes))
	if err != nil {
		return err
	}

	if sig == nil && offset == 0 && !s.selfCompress && job.local.Size <= maxPackedFileBytes {
		// A small file whose delta base could not be had.
		return s.sendPacked(fl, job, header, osFile{f}, h)
	}

	var sendErr error
	pk := newPacker(header, messageBytes(c.opts.Compression), s.send)
	pk.whole = s.pack
	if sig != nil {
		pk.blockSize = int64(sig.BlockSize)
	}
	emit := func(op engine.Op) error {
		if err := pk.add(op); err != nil {
			sendErr = err
			return err
		}
		return nil
	}
	var short bool
	switch {
	case sig != nil:
		lr := &io.LimitedReader{R: f, N: job.local.Size - offset}
		_, err = engine.Delta(sig, io.TeeReader(lr, h), emit)
		short = lr.N != 0
	default:
		// Literals of the data only: each hole of a sparse file goes as
		// one zeros op.
		literals := func(r io.Reader) error { return sendLiterals(r, emit) }
		if s.selfCompress {
			literals = func(r io.Reader) error {
				return sendZstdLiterals(r, selfCompressWorkers, func(frame []byte, size int) error {
					if err := pk.addZstd(frame, size); err != nil {
						sendErr = err
						return err
					}
					return nil
				})
			}
		}
		short, err = sendExtents(f, offset, job.local.Size, h, literals, emit)
	}
	if sendErr != nil {
		return sendErr
	}
	if sum := s.checkRead(fl, job, osFile{f}, h, short, err); sum != nil {
		pk.finishSum(sum)
	}
	return pk.finish()
}

// checkRead records in fl why what was read of f, hashed into h, is not
// the file as the job describes it, if it is not: readErr, a short read,
// another SHA-256 or a changed size, mtime or type. Whatever went wrong, the
// caller still finishes the file so that the stream stays in step: the
// server checks the SHA-256 and refuses what does not match. It returns
// the SHA-256 to send with the finish, for a file not hashed beforehand,
// or nil.
func (s *upStream) checkRead(fl *inflight, job *uploadJob, f fileSource, h hash.Hash, short bool, readErr error) []byte {
	path := job.local.Path
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var bad error
	switch {
	case readErr != nil:
		bad = fmt.Errorf("read %q: %w", path, readErr)
	case short || (job.local.HasSHA256 && sum != job.local.SHA256):
		bad = fmt.Errorf("%q: %w", path, errChanged)
	default:
		bad = f.sameAs(job.local)
	}
	if bad != nil {
		s.setLocalErr(fl, bad)
	} else if !job.local.HasSHA256 {
		s.u.c.hashes.put(path, job.local.Size, job.local.MtimeNs, sum)
	}
	if job.local.HasSHA256 {
		// The header's SHA-256 is what the server checks: what was
		// read goes in only if it is the file that was hashed.
		return nil
	}
	if bad != nil {
		// What was read may be torn, a mix of the file before and
		// after a write that no version of it ever held. A sum that
		// cannot match makes the server refuse it and keep its copy,
		// always a whole version of the file; the write's event
		// brings the next pass, which sends it again.
		sum[0] ^= 0xff
	}
	return sum[:]
}

// maxPackedFileBytes is the largest file [upStream.sendPacked] takes.
const maxPackedFileBytes = engine.MaxLiteralSize

// fileSource is an open local file being sent.
type fileSource interface {
	io.Reader
	// sameAs checks that the file still has the size and mtime of e.
	sameAs(e engine.Entry) error
}

// osFile is a fileSource on an *os.File.
type osFile struct{ *os.File }

// sameAs checks that the file still has the size and mtime of e.
func (f osFile) sameAs(e engine.Entry) error { return sameStat(f.File, e) }

// packable reports whether job is certain to go out whole in a packed
// message, as [upStream.sendSmall] sends it: a small file with no remote
// copy large enough for a delta, which is never resumed either (see
// resumeMinBytes).
func (s *upStream) packable(job *uploadJob) bool {
	return !s.selfCompress && job.local.Size <= maxPackedFileBytes && job.local.Size < resumeMinBytes &&
		(job.remote == nil || job.remote.Size < s.u.c.deltaThreshold)
}

// sendSmall sends a packable file: opened on a bare descriptor (see
// [smallFile]) and read into the packed message. It is checked once, after
// the read (see [upStream.checkRead]): a check before it as well cost an
// fstat per file and caught nothing that one misses, since a file that
// changed since the scan has changed by then too.
func (s *upStream) sendSmall(ctx context.Context, job *uploadJob) error {
	f, err := s.u.c.openSmall(job.local.Path)
	if err != nil {
		s.u.done(uploadResult{job: job, err: err})
		return nil
	}
	defer f.close()
	fl, err := s.admit(ctx, job, job.local.Size)
	if err != nil {
		return err
	}
	s.hash.Reset()
	header := &dirsyncv1.UploadHeader{Entry: entryToProto(job.local), ObservedAtNs: s.u.c.observedAt.Load()}
	return s.sendPacked(fl, job, header, f, s.hash)
}

// sendPacked sends a whole small file, read straight into the stream's
// packing arena (see [upStream.arena]), as one packed literal: no read
// buffer, no copy into a fresh slice, and no garbage. An initial sync of
// 20,000 small files used to allocate each file's bytes anew, 200 MB
// that the client's collector then had to chase.
func (s *upStream) sendPacked(fl *inflight, job *uploadJob, header *dirsyncv1.UploadHeader, f fileSource, h hash.Hash) error {
	size := int(job.local.Size)
	msgSize := proto.Size(header) + 2*opOverhead + size + sha256.Size
	if err := s.makeRoom(msgSize); err != nil {
		return err
	}
	data := s.arena.take(size)
	n, err := io.ReadFull(f, data)
	short := n < size
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	data = data[:n]
	h.Write(data)
	file := &dirsyncv1.UploadFile{Header: header, Sha256: s.checkRead(fl, job, f, h, short, err)}
	if n > 0 {
		file.Ops = []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: data}}}
	}
	s.packed = append(s.packed, file)
	s.packedSize += msgSize
	return nil
}

// literalBuffers holds the read buffers of sendLiterals, so that
// thousands of small files do not cost thousands of large allocations.
var literalBuffers = sync.Pool{New: func() any { return new([engine.MaxLiteralSize]byte) }}

// sendLiterals reads r to its end and emits it as literal ops of at most
// engine.MaxLiteralSize bytes. The ops' Data share one pooled buffer, so
// emit must copy what it keeps.
func sendLiterals(r io.Reader, emit func(engine.Op) error) error {
	pooled := literalBuffers.Get().(*[engine.MaxLiteralSize]byte)
	defer literalBuffers.Put(pooled)
	buf := pooled[:]
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if err := emit(engine.Op{Kind: engine.OpLiteral, Data: buf[:n]}); err != nil {
				return err
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
}

// abs returns the local file system path of the relative path rel.
func (c *Client) abs(rel string) string {
	return filepath.Join(c.opts.Dir, filepath.FromSlash(rel))
}

// openRegular opens a regular file for reading without following a symlink
// in its place, nor blocking on a named pipe that replaced it, and returns
// it with what fstat says of it.
func openRegular(name string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, openErr(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is no longer a regular file: %w", filepath.Base(name), errChanged)
	}
	return f, info, nil
}

// sameStat checks that the open file f still has the size and mtime of e.
func sameStat(f *os.File, e engine.Entry) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	return sameInfo(info, e)
}

// sameInfo checks that info gives the size and mtime of e.
func sameInfo(info fs.FileInfo, e engine.Entry) error {
	return sameStamp(info.Size(), info.ModTime().UnixNano(), e)
}

// sameStamp checks that a file of size bytes with mtime mtimeNs is still
// the file e describes.
func sameStamp(size, mtimeNs int64, e engine.Entry) error {
	if size != e.Size || mtimeNs != e.MtimeNs {
		return fmt.Errorf("%q: %w", e.Path, errChanged)
	}
	return nil
}
