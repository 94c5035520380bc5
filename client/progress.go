package client

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a pass's file transfers as a bar of bytes with the files
// done, the rate and the time left. A nil *progress shows nothing. It is
// not safe for concurrent use: the pass calls it under its lock.
type progress struct {
	bar        *progressbar.ProgressBar
	w          io.Writer
	files      int
	done       int
	totalBytes int64
}

// newProgress returns a bar on w for files files of totalBytes bytes, or
// nil when w is nil or there is nothing to transfer.
func newProgress(w io.Writer, files int, totalBytes int64) *progress {
	if w == nil || files == 0 {
		return nil
	}
	p := &progress{w: w, files: files, totalBytes: totalBytes}
	p.bar = progressbar.NewOptions64(totalBytes,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.description()),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetRenderBlankState(true),
	)
	return p
}

// description names the files done so far.
func (p *progress) description() string {
	return fmt.Sprintf("files %d/%d", p.done, p.files)
}

// file counts one more file of size bytes as done, however it ended.
func (p *progress) file(size int64) {
	if p == nil {
		return
	}
	p.done++
	p.bar.Describe(p.description())
	_ = p.bar.Add64(size)
}

// finish completes the bar and ends its line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	_ = p.bar.Finish()
	fmt.Fprintln(p.w)
}
