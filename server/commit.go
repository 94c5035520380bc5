package server

import (
	"fmt"
	"os"
	"sync"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Group commit bounds. Making a file durable costs an fsync of the file
// and one of its directory, which dominate the cost of small files; a
// committer pays them for many files at once, overlapping the file syncs
// and syncing each directory once per group.
const (
	// commitGroupMax is the most verified files one group commit takes.
	commitGroupMax = 64
	// commitSyncers is the most file fsyncs a group commit runs at once.
	commitSyncers = 8
	// syncfsMinFiles is the smallest group made durable with syncfs
	// rather than with an fsync per file; see [Server.commitGroup].
	syncfsMinFiles = 8
)

// committer makes the verified files of one Upload stream durable and
// renames them into place, in groups, while the stream goes on receiving
// the next files. It answers every file in the order the files arrived,
// once the file is in place or has failed. A file's path stays locked
// until it is answered.
//
// Make one with [Server.newCommitter], hand it files with add, and close
// it before the stream's handler returns.
type committer struct {
	s     *Server
	send  func(*dirsyncv1.UploadResponse) error
	queue chan *fileUpload
	done  chan struct{}
	// sendErr is the first error sending an answer met; set by the
	// committer's goroutine, read after done is closed.
	sendErr error
}

// newCommitter starts a committer that answers files with send.
func (s *Server) newCommitter(send func(*dirsyncv1.UploadResponse) error) *committer {
	c := &committer{
		s:     s,
		send:  send,
		queue: make(chan *fileUpload, commitGroupMax),
		done:  make(chan struct{}),
	}
	go c.run()
	return c
}

// add queues u, verified or failed, for its commit and answer. It blocks
// while commitGroupMax files wait already.
func (c *committer) add(u *fileUpload) {
	c.queue <- u
}

// close commits and answers the files queued, and returns the first error
// met sending an answer: the stream is then broken.
func (c *committer) close() error {
	close(c.queue)
	<-c.done
	return c.sendErr
}

// run takes the queued files in groups: everything waiting when the last
// group is done, up to commitGroupMax.
func (c *committer) run() {
	defer close(c.done)
	group := make([]*fileUpload, 0, commitGroupMax)
	for u := range c.queue {
		group = append(group[:0], u)
	fill:
		for len(group) < commitGroupMax {
			select {
			case u, ok := <-c.queue:
				if !ok {
					break fill
				}
				group = append(group, u)
			default:
				break fill
			}
		}
		c.s.commitGroup(group)
		for _, u := range group {
			resp := u.response()
			if c.sendErr == nil {
				if err := c.send(resp); err != nil {
					c.sendErr = err
				}
			}
		}
	}
}

// commitGroup makes the verified files of group durable and renames them
// into place, then makes the renames durable. A file that fails records
// its error. Files that had failed already are left alone.
//
// A group of at least syncfsMinFiles files is made durable with one
// syncfs(2) before the renames and one after, instead of an fsync per file
// and per directory: measured on 2,000 small files over loopback, that
// made the initial sync about 30% faster. syncfs also flushes whatever
// else is waiting to be written on the same file system, which costs a
// little when other programs write there, so small groups, and systems
// without syncfs, fsync each file (concurrently) and each directory once.
func (s *Server) commitGroup(group []*fileUpload) {
	var ready []*fileUpload
	for _, u := range group {
		if u.err == nil {
			ready = append(ready, u)
		}
	}
	if len(ready) == 0 {
		return
	}
	bulk := canSyncFilesystem && len(ready) >= syncfsMinFiles
	if bulk {
		if err := syncFilesystem(ready[0].tmp); err != nil {
			bulk = false // fall back to fsyncs, which report per file
			s.log.Warn("group commit: syncfs failed, syncing files one by one", "error", err)
		}
	}
	if !bulk {
		syncFiles(ready)
	}

	dirs := map[string][]*fileUpload{}
	var placed []*fileUpload
	for _, u := range ready {
		if u.err != nil {
			continue
		}
		if err := u.place(); err != nil {
			u.fail(err)
			continue
		}
		placed = append(placed, u)
		dir := engine.ParentPath(u.rel)
		dirs[dir] = append(dirs[dir], u)
	}
	if len(placed) == 0 {
		return
	}
	if bulk {
		if err := syncRootFilesystem(placed[0].dir); err != nil {
			s.log.Warn("group commit: syncfs failed, syncing directories one by one", "error", err)
			bulk = false
		}
	}
	for dir, inDir := range dirs {
		if !bulk {
			if err := syncRoot(inDir[0].dir, dir); err != nil {
				// The files are in place and whole, but may not survive
				// a crash: report them, and the client sends them again.
				for _, u := range inDir {
					u.fail(err)
				}
				continue
			}
		}
		for _, u := range inDir {
			s.index.put(u.rel, u.placed)
		}
	}
}

// syncFiles fsyncs the temporary files of us, commitSyncers at a time,
// recording failures in the files.
func syncFiles(us []*fileUpload) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, commitSyncers)
	for _, u := range us {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := u.tmp.Sync(); err != nil {
				u.err = fmt.Errorf("sync %q: %w", u.rel, err)
			}
		})
	}
	wg.Wait()
}

// syncRootFilesystem runs syncFilesystem on the file system of the
// directory d.
func syncRootFilesystem(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer f.Close()
	return syncFilesystem(f)
}

// place closes the verified, durable temporary file and renames it over
// the file's path, without syncing the directory.
func (u *fileUpload) place() error {
	tmp := u.tmp
	u.tmp = nil
	info, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return fmt.Errorf("stat %q: %w", u.rel, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %q: %w", u.rel, err)
	}
	if err := u.s.rename(u.dir, u.tmpName, u.name, u.rel); err != nil {
		return err
	}
	u.tmpName = ""
	u.placed = content{size: info.Size(), mtimeNs: info.ModTime().UnixNano(), sum: u.want.SHA256}
	return nil
}
