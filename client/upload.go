package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// Bounds on what one Upload stream has sent but not yet seen answered, so
// that memory and the work lost to a broken stream stay bounded. A single
// file larger than maxInflightBytes is still sent, alone.
const (
	maxInflightFiles = 512
	maxInflightBytes = 16 << 20
)

// defaultDeltaThreshold is the smallest server copy worth a delta: below it
// the signature round trip costs more than sending the file outright. See
// the measurements in the package's report.
const defaultDeltaThreshold = 64 << 10

// uploadJob is one file to upload.
type uploadJob struct {
	// local describes the file as it must end up, hashed: its Size,
	// MtimeNs and SHA256 are those of the content that was hashed.
	local engine.Entry
	// remote is the server's regular file at the same path, the base of a
	// delta, or nil.
	remote *engine.Entry
}

// uploadResult is the outcome of one uploadJob.
type uploadResult struct {
	job *uploadJob
	// resp is the server's answer, or nil when the file never got one.
	resp *dirsyncv1.UploadResponse
	// err says why the file got no answer, or why the local file could
	// not be sent faithfully; nil when resp tells everything.
	err error
}

// uploader sends files on Options.Concurrency parallel Upload streams, each
// carrying many files back to back.
type uploader struct {
	c *Client
	// done receives the outcome of each file. It is called from the
	// streams' goroutines, concurrently, and must not block for long.
	done func(uploadResult)
}

// run uploads jobs and reports each through u.done. It returns an error only
// when the pass must stop: the server became unreachable or ctx ended. Files
// not yet answered then get no outcome.
func (u *uploader) run(ctx context.Context, jobs []*uploadJob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every job is queued before the workers start, so that a worker
	// always finds its next file at hand and packs small files together
	// (see [upStream.pack]) whatever the scheduler does: queued while the
	// workers ran, a loaded machine could leave the queue empty for a
	// moment and make a worker send a pack early.
	batches := dirBatches(jobs)
	ch := make(chan []*uploadJob, len(batches))
	for _, b := range batches {
		ch <- b
	}
	close(ch)
	n := min(u.c.opts.Concurrency, len(batches))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if errs[i] = u.worker(ctx, ch); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Bounds of a batch of [dirBatches].
const (
	batchFiles = 64
	batchBytes = 1 << 20
)

// dirBatches splits jobs, in path order, into the batches the workers take
// one at a time: runs of files of one directory, of at most batchFiles
// files and about batchBytes bytes. Workers that took single files from
// one queue sent the files of a directory on all the streams at once, and
// the server then created them from as many goroutines in the same
// directory, where every create and rename takes the directory's lock in
// the kernel; with batches, the streams mostly write to different
// directories. An initial sync of 20,000 small files took 2.52 s instead
// of 2.68 (medians of 6 interleaved pairs; the lock's contention itself
// was not measured). The bounds keep a large directory spread over the
// streams.
func dirBatches(jobs []*uploadJob) [][]*uploadJob {
	var (
		out   [][]*uploadJob
		start int
		size  int64
	)
	for i, j := range jobs {
		if i > start && (i-start >= batchFiles || size >= batchBytes ||
			engine.ParentPath(j.local.Path) != engine.ParentPath(jobs[start].local.Path)) {
			out = append(out, jobs[start:i])
			start, size = i, 0
		}
		size += j.local.Size
	}
	if start < len(jobs) {
		out = append(out, jobs[start:])
	}
	return out
}

// worker takes batches of jobs and sends their files on one stream,
// opening another one if the stream fails for a reason that is not the
// connection's.
func (u *uploader) worker(ctx context.Context, batches <-chan []*uploadJob) error {
	var (
		s     *upStream
		batch []*uploadJob
	)
	for {
		if err := ctx.Err(); err != nil {
			// Every job is queued from the start: stop taking them.
			if s != nil {
				s.close()
			}
			return err
		}
		if len(batch) == 0 {
			var ok bool
			select {
			case batch, ok = <-batches:
			default:
				// No next file at hand: send what is packed before
				// waiting.
				if s != nil {
					if err := s.flushPacked(); err != nil {
						serr := s.close()
						s = nil
						if err := u.settle(ctx, serr, err); err != nil {
							return err
						}
					}
				}
				select {
				case <-ctx.Done():
					if s != nil {
						s.close()
					}
					return ctx.Err()
				case batch, ok = <-batches:
				}
			}
			if !ok {
				if s == nil {
					return nil
				}
				return u.settle(ctx, s.close(), nil)
			}
		}
		job := batch[0]
		batch = batch[1:]
		if u.selfCompressed(job) {
			// A stream of its own, without message compression; the
			// current one stays open for the files that follow.
			own := u.open(ctx, u.c.rpcRaw)
			own.selfCompress = true
			err := own.sendFile(ctx, job)
			if err := u.settle(ctx, own.close(), err); err != nil {
				if s != nil {
					s.close()
				}
				return err
			}
			continue
		}
		if s == nil {
			s = u.open(ctx, u.c.rpcUpload)
		}
		if err := s.sendFile(ctx, job); err != nil {
			serr := s.close()
			s = nil
			if err := u.settle(ctx, serr, err); err != nil {
				return err
			}
		}
	}
}

// settle decides what a stream's end means for the pass: streamErr is the
// error the stream ended with, sendErr the one sending met, if any. It
// returns an error when the pass must stop, and logs other failures, whose
// files have already been reported.
func (u *uploader) settle(ctx context.Context, streamErr, sendErr error) error {
	err := streamErr
	if err == nil {
		err = sendErr
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if transient(streamErr) || transient(sendErr) || authFailed(streamErr) || authFailed(sendErr) {
		return fmt.Errorf("upload: %w", err)
	}
	u.c.log.Warn("upload stream failed; its unanswered files are retried next pass", "err", err)
	return nil
}

// selfCompressMin is the smallest file whose literals the client
// compresses itself, in frames of engine.MaxZstdLiteralSize on
// selfCompressWorkers goroutines. Message compression runs on the one
// goroutine that sends a stream's messages: on the benchmark's 256 MiB
// text file that was 98 MB/s, most of the upload's time.
const (
	selfCompressMin     = 8 << 20
	selfCompressWorkers = 2
)

// selfCompressed reports whether job goes on a stream of its own with
// literals the client compresses itself: a large file, with zstd chosen,
// that is sent whole rather than as a delta.
func (u *uploader) selfCompressed(job *uploadJob) bool {
	c := u.c
	return c.rpcRaw != nil && job.local.Size >= selfCompressMin &&
		(job.remote == nil || job.remote.Size < c.deltaThreshold)
}

// open starts an Upload stream on rpc and its reader goroutine.
func (u *uploader) open(ctx context.Context, rpc dirsyncv1connect.SyncServiceClient) *upStream {
	sctx, cancel := context.WithCancel(ctx)
	s := &upStream{
		u:          u,
		bidi:       rpc.Upload(sctx),
		cancel:     cancel,
		fifo:       make(chan *inflight, maxInflightFiles),
		dead:       make(chan struct{}),
		readerDone: make(chan struct{}),
		wake:       make(chan struct{}),
		hash:       sha256.New(),
		arena:      arena{most: packedMessageBytes(u.c.opts.Compression)},
	}
	go s.read()
	return s
}

// upStream is one Upload stream. The worker goroutine sends files on it;
// the reader goroutine matches the server's answers to them in order.
type upStream struct {
	u      *uploader
	bidi   *connect.BidiStreamForClient[dirsyncv1.UploadRequest, dirsyncv1.UploadResponse]
	cancel context.CancelFunc
	// fifo holds the files sent and not yet answered, oldest first. The
	// worker pushes a file before its first message and closes fifo when
	// it is done with the stream; the reader pops.
	fifo chan *inflight
	// dead is closed by the reader once the stream has ended; readErr,
	// set before, is why (nil for a clean end).
	dead    chan struct{}
	readErr error
	// readerDone is closed when the reader has reported every file.
	readerDone chan struct{}

	// mu guards the in-flight budget and the localErr of inflight files.
	mu    sync.Mutex
	files int
	bytes int64
	// wake is closed and replaced whenever the budget is released.
	wake chan struct{}

	// packed holds whole small files waiting to go out together in one
	// message (UploadRequest.files), about packedSize bytes; only the
	// worker goroutine touches them. See [upStream.pack].
	packed     []*dirsyncv1.UploadFile
	packedSize int
	// arena holds the contents of the packed files that
	// [upStream.sendPacked] read; it is reused once they are sent.
	arena arena

	// selfCompress marks a stream without message compression whose
	// literals the client compresses itself; see [uploader.selfCompressed].
	selfCompress bool

	// hash is the SHA-256 [upStream.sendSmall] reuses for small files.
	hash hash.Hash
}

// inflight is a file sent on a stream and not yet answered.
type inflight struct {
	job  *uploadJob
	cost int64
	// localErr, guarded by upStream.mu, records that what was sent is not
	// the file as hashed: it changed or could not be read.
	localErr error
}

// admit takes job onto the stream, costing cost bytes of its budget, and
// queues it for its answer; an error, reported for the job too, means the
// stream or the pass is over.
func (s *upStream) admit(ctx context.Context, job *uploadJob, cost int64) (*inflight, error) {
	if err := s.acquire(ctx, cost); err != nil {
		s.u.done(uploadResult{job: job, err: err})
		return nil, err
	}
	fl := &inflight{job: job, cost: cost}
	// acquire leaves room in fifo: it holds at most maxInflightFiles.
	s.fifo <- fl
	return fl, nil
}

// acquire waits until the stream may take one more file costing cost bytes.
// Before it waits, it sends the packed files, which may be the ones
// holding the budget.
func (s *upStream) acquire(ctx context.Context, cost int64) error {
	for {
		s.mu.Lock()
		if s.files == 0 || (s.files < maxInflightFiles && s.bytes+cost <= maxInflightBytes) {
			s.files++
			s.bytes += cost
			s.mu.Unlock()
			return nil
		}
		wake := s.wake
		s.mu.Unlock()
		if err := s.flushPacked(); err != nil {
			return err
		}
		select {
		case <-wake:
		case <-s.dead:
			if s.readErr != nil {
				return s.readErr
			}
			return errors.New("upload stream ended")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns a file's share of the budget.
func (s *upStream) release(cost int64) {
	s.mu.Lock()
	s.files--
	s.bytes -= cost
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// setLocalErr records that f was not sent faithfully.
func (s *upStream) setLocalErr(f *inflight, err error) {
	s.mu.Lock()
	f.localErr = err
	s.mu.Unlock()
}

// report hands the outcome of f to the uploader.
func (s *upStream) report(f *inflight, resp *dirsyncv1.UploadResponse, err error) {
	s.mu.Lock()
	local := f.localErr
	s.mu.Unlock()
	s.release(f.cost)
	// A file the server accepted is the content that was hashed: the
	// server checked its SHA-256. If it changed since, its new mtime
	// makes the next pass send it again.
	if local != nil && (resp == nil || resp.GetCode() != 0) {
		err = local
	}
	s.u.done(uploadResult{job: f.job, resp: resp, err: err})
}

// read receives the server's answers until the stream ends, then reports
// every file still unanswered as failed.
func (s *upStream) read() {
	defer close(s.readerDone)
	var err error
	for {
		resp, rerr := s.bidi.Receive()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		if err = s.match(resp); err != nil {
			break
		}
		more := resp.More
		resp.More = nil
		for _, m := range more {
			if len(m.GetMore()) > 0 {
				err = fmt.Errorf("upload: answer for %q nests more answers", namedPath(m))
				break
			}
			if err = s.match(m); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	s.readErr = err
	close(s.dead)
	// Unblock the worker if it is still sending.
	s.cancel()
	cause := err
	if cause == nil {
		cause = errors.New("upload stream ended before the file was answered")
	}
	for f := range s.fifo {
		s.report(f, nil, cause)
	}
}

// match reports resp as the answer for the oldest file in flight, or
// returns why it cannot be.
func (s *upStream) match(resp *dirsyncv1.UploadResponse) error {
	var f *inflight
	select {
	case f = <-s.fifo:
	default:
	}
	if f == nil {
		return fmt.Errorf("upload: answer for %q with no file pending", namedPath(resp))
	}
	if namedPath(resp) != f.job.local.Path {
		err := fmt.Errorf("upload: answer for %q, expected %q", namedPath(resp), f.job.local.Path)
		s.report(f, nil, err)
		return err
	}
	s.report(f, resp, nil)
	return nil
}

// send sends msg, after the packed files, which came first.
func (s *upStream) send(msg *dirsyncv1.UploadRequest) error {
	if err := s.flushPacked(); err != nil {
		return err
	}
	return s.bidi.Send(msg)
}

// pack takes msg, a whole file in one message of about size bytes, to send
// later with others in one message. Small files cost mostly per message:
// framing, flow control and a hand-off between goroutines on each side.
// The packed files go out when the next would make the message larger
// than the packer's bound, before any message of another kind, before the
// stream waits for answers, and whenever the worker has no next file at
// hand, so packing never delays a lone change.
func (s *upStream) pack(msg *dirsyncv1.UploadRequest, size int) error {
	if err := s.makeRoom(size); err != nil {
		return err
	}
	s.packed = append(s.packed, &dirsyncv1.UploadFile{Header: msg.Header, Ops: msg.Ops, Sha256: msg.Sha256})
	s.packedSize += size
	return nil
}

// makeRoom sends the packed files first if a file of about size bytes
// would make their message larger than the packer's bound.
func (s *upStream) makeRoom(size int) error {
	if len(s.packed) > 0 && s.packedSize+size > packedMessageBytes(s.u.c.opts.Compression) {
		return s.flushPacked()
	}
	return nil
}

// flushPacked sends the packed files, if any, in one message. Once it is
// sent, nothing refers to the bytes taken from the arena any more: Connect
// marshals a message before Send returns.
func (s *upStream) flushPacked() error {
	if len(s.packed) == 0 {
		return nil
	}
	msg := &dirsyncv1.UploadRequest{Files: s.packed}
	s.packed, s.packedSize = s.packed[:0], 0
	err := s.bidi.Send(msg)
	clear(msg.Files)
	s.arena.reset()
	if err != nil {
		return fmt.Errorf("send upload message: %w", err)
	}
	return nil
}

// close ends the stream and waits until every file sent on it has been
// reported. It returns the error the stream ended with, if any. Packed
// files go out first; if that fails, the reader reports them with the
// stream's error.
func (s *upStream) close() error {
	_ = s.flushPacked()
	_ = s.bidi.CloseRequest()
	close(s.fifo)
	<-s.readerDone
	_ = s.bidi.CloseResponse()
	s.cancel()
	return s.readErr
}
