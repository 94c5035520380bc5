package client

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Result codes of ChangeResult and UploadResponse that the client acts on.
const (
	codeNotFound = uint32(connect.CodeNotFound)
	codeAborted  = uint32(connect.CodeAborted)
)

// sendFiles brings the contents of the plan's files to the server, the
// cheapest way that works: files the server holds with the same content
// only get their metadata (returned, to apply with the rest), files whose
// content it holds elsewhere are copied there, and the others are uploaded.
func (p *pass) sendFiles(ctx context.Context, send []engine.FileChange) ([]engine.Entry, error) {
	jobs := p.hashAll(ctx, send)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var meta []engine.Entry
	var candidates, direct []*uploadJob
	for _, j := range jobs {
		if !j.local.HasSHA256 {
			direct = append(direct, j) // no server file has its size
			continue
		}
		r := j.remote
		if r == nil || !r.HasSHA256 || r.SHA256 != j.local.SHA256 {
			candidates = append(candidates, j)
			continue
		}
		p.mu.Lock()
		p.sum.Unchanged++
		p.bar.file(j.local.Size)
		p.mu.Unlock()
		if r.Mode != j.local.Mode || r.MtimeNs != j.local.MtimeNs {
			meta = append(meta, j.local)
		}
	}
	uploads, err := p.dedup(ctx, candidates)
	if err != nil {
		return nil, err
	}
	return meta, p.upload(ctx, append(direct, uploads...))
}

// needsHash reports whether the local file of fc must be hashed before it
// is sent: to learn whether the server's copy already has its content, or
// whether some other file on the server does, so that it can be copied
// there instead of uploaded. Files that skip it are read once, by the
// upload, which hashes them as it sends them and sends the SHA-256 with
// the finish.
//
//   - No file on the server has its size, which a pass over the whole
//     tree knows: neither can be true.
//   - The server's copy has the same size and is big enough for a delta,
//     and no other server file has that size: the delta finds out. If the
//     content is the same, it is all block copies and sends no content.
func (p *pass) needsHash(fc engine.FileChange) bool {
	size := fc.Local.Size
	sameSize := fc.Remote != nil && fc.Remote.Type == engine.TypeFile && fc.Remote.Size == size
	if sameSize && size >= p.c.deltaThreshold && (p.remoteSizes == nil || p.remoteSizes[size] == 1) {
		return false
	}
	return p.remoteSizes == nil || p.remoteSizes[size] > 0
}

// hashAll hashes the local files of send that need it (see
// [pass.needsHash]) on Options.Concurrency goroutines, and returns a job
// for each file that could be hashed or needs no hash; the others are
// recorded as failed.
func (p *pass) hashAll(ctx context.Context, send []engine.FileChange) []*uploadJob {
	jobs := make([]*uploadJob, len(send))
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(p.c.opts.Concurrency, len(send)) {
		wg.Go(func() {
			for i := range idx {
				if !p.needsHash(send[i]) {
					e := send[i].Local
					e.SHA256, e.HasSHA256 = [32]byte{}, false
					jobs[i] = &uploadJob{local: e, remote: send[i].Remote}
					continue
				}
				e, err := p.c.hashLocal(send[i].Local)
				if err != nil {
					p.fail(send[i].Local.Path, "hash", err)
					p.mu.Lock()
					p.bar.file(send[i].Local.Size)
					p.mu.Unlock()
					continue
				}
				jobs[i] = &uploadJob{local: e, remote: send[i].Remote}
			}
		})
	}
feed:
	for i := range send {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	out := jobs[:0]
	for _, j := range jobs {
		if j != nil {
			out = append(out, j)
		}
	}
	return out
}

// hashLocal returns e as the file at its path is now, hashed: size, mode
// and mtime come from the open file, and the SHA-256 from reading it, or
// from the cache when the file's size and mtime have not changed since it
// was last hashed. A file that changes while it is read is an error
// wrapping errChanged.
func (c *Client) hashLocal(e engine.Entry) (engine.Entry, error) {
	f, info, err := openRegular(c.abs(e.Path))
	if err != nil {
		return e, err
	}
	defer f.Close()
	fresh, err := engine.EntryFromInfo(e.Path, info, "")
	if err != nil {
		return e, err
	}
	if sum, ok := c.hashes.get(e.Path, fresh.Size, fresh.MtimeNs); ok {
		fresh.SHA256, fresh.HasSHA256 = sum, true
		return fresh, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return e, fmt.Errorf("hash: %w", err)
	}
	if n != fresh.Size {
		return e, fmt.Errorf("%q: %w", e.Path, errChanged)
	}
	if err := sameStat(f, fresh); err != nil {
		return e, err
	}
	copy(fresh.SHA256[:], h.Sum(nil))
	fresh.HasSHA256 = true
	c.hashes.put(e.Path, fresh.Size, fresh.MtimeNs, fresh.SHA256)
	return fresh, nil
}

// dedup asks the server to make each job's file from content it already
// holds. It returns the jobs the server has no content for, to upload.
func (p *pass) dedup(ctx context.Context, jobs []*uploadJob) ([]*uploadJob, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	changes := make([]*dirsyncv1.Change, len(jobs))
	for i, j := range jobs {
		changes[i] = &dirsyncv1.Change{Action: &dirsyncv1.Change_CopyContent{CopyContent: entryToProto(j.local)}}
	}
	var uploads []*uploadJob
	err := p.c.applyChangesParallel(ctx, changes, p.c.opts.Concurrency, func(i int, r *dirsyncv1.ChangeResult) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.GetCode() {
		case 0:
			p.sum.Deduplicated++
			p.sum.DedupBytes += r.GetSavedBytes()
			p.bar.file(jobs[i].local.Size)
		case codeNotFound:
			uploads = append(uploads, jobs[i])
		default:
			p.failCodeLocked(jobs[i].local.Path, "copy content", r.GetCode(), r.GetMessage())
			p.bar.file(jobs[i].local.Size)
		}
	})
	return uploads, err
}

// upload uploads jobs. A file whose delta base changed meanwhile (ABORTED)
// is hashed and sent once more from scratch, with a fresh signature.
func (p *pass) upload(ctx context.Context, jobs []*uploadJob) error {
	if len(jobs) == 0 {
		return nil
	}
	var again []*uploadJob
	u := &uploader{c: p.c, done: func(r uploadResult) { p.uploaded(r, &again) }}
	if err := u.run(ctx, jobs); err != nil {
		return err
	}
	if len(again) == 0 {
		return nil
	}
	send := make([]engine.FileChange, len(again))
	for i, j := range again {
		p.c.hashes.forget(j.local.Path)
		send[i] = engine.FileChange{Local: j.local, Remote: j.remote}
	}
	retry := p.hashAll(ctx, send)
	u.done = func(r uploadResult) { p.uploaded(r, nil) }
	return u.run(ctx, retry)
}

// uploaded records the outcome of one upload. An ABORTED file is added to
// *again when again is not nil, and is a failure otherwise.
func (p *pass) uploaded(r uploadResult, again *[]*uploadJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	path := r.job.local.Path
	switch {
	case r.resp == nil:
		p.failLocked(path, "upload", r.err)
	case r.resp.GetCode() == 0:
		p.sum.Sent++
		p.sum.LiteralBytes += r.resp.GetLiteralBytes()
		p.sum.MatchedBytes += r.resp.GetMatchedBytes()
		p.sum.ResumedBytes += r.resp.GetResumedBytes()
	case r.resp.GetCode() == codeAborted && again != nil:
		p.c.log.Debug("delta base changed; sending again", "path", path, "message", r.resp.GetMessage())
		*again = append(*again, r.job)
		return
	case r.err != nil:
		p.failLocked(path, "upload", fmt.Errorf("%w (server: code %d, %s)", r.err, r.resp.GetCode(), r.resp.GetMessage()))
	default:
		p.failCodeLocked(path, "upload", r.resp.GetCode(), r.resp.GetMessage())
	}
	p.bar.file(r.job.local.Size)
}
