package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A busy writer appends a line to a log every busyInterval, as a build or
// an application does; while it writes, W1 times unrelated changes made
// busyGap apart, and samples every busySample how far the server's copy
// of the log lags behind.
const (
	busyInterval = 3 * time.Millisecond
	busyGap      = 100 * time.Millisecond
	busySample   = 5 * time.Millisecond
)

// busyLog is the log a busy writer appends to: line i (from 0) is
// busyLine(i), and written holds the time each line was written.
type busyLog struct {
	mu      sync.Mutex
	written []time.Time
}

// busyLine is line i of the busy log: fixed width, so that the number of
// lines follows from the size.
func busyLine(i int) []byte {
	return fmt.Appendf(nil, "busy writer line %08d\n", i)
}

// busyLineLen is the length of every line of the busy log.
var busyLineLen = int64(len(busyLine(0)))

// write appends a line to f every busyInterval until ctx ends.
func (l *busyLog) write(ctx context.Context, f *os.File) error {
	t := time.NewTicker(busyInterval)
	defer t.Stop()
	for i := 0; ; i++ {
		if _, err := f.Write(busyLine(i)); err != nil {
			return fmt.Errorf("append to busy log: %w", err)
		}
		l.mu.Lock()
		l.written = append(l.written, time.Now())
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// lag returns how far a copy holding the first n complete lines is
// behind: the time since line n was written, or 0 if it has not been.
func (l *busyLog) lag(n int, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n >= len(l.written) {
		return 0
	}
	return now.Sub(l.written[n])
}

// lines returns how many lines the busy log holds.
func (l *busyLog) lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.written)
}

// copyLines returns how many complete, correct lines the copy at path
// holds, checking the last of them; -1 if it holds something else.
func copyLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	n := fi.Size() / busyLineLen
	if n == 0 {
		return 0
	}
	buf := make([]byte, busyLineLen)
	if _, err := f.ReadAt(buf, (n-1)*busyLineLen); err != nil && err != io.EOF {
		return 0
	}
	if !bytes.Equal(buf, busyLine(int(n-1))) {
		return -1
	}
	return int(n)
}

// busyResult is what a busy writer costs: the delays of unrelated changes
// made while it writes, and the lag of the server's copy of its log.
type busyResult struct {
	unrelated, lag latencyResult
	// torn counts samples of the server's copy that were not a prefix
	// of the log.
	torn int
}

// timeBusyWriter runs a busy writer on src/rel for repeats unrelated
// changes, busyGap apart, to the files edits (relative to src, rewritten
// in turn), and samples the lag of the log's server copy in dst.
func (b *bench) timeBusyWriter(ctx context.Context, src, dst, rel string, edits []string, repeats int) (busyResult, error) {
	res := busyResult{
		unrelated: latencyResult{Name: fmt.Sprintf("rewrite one small file while another is appended every %v", busyInterval)},
		lag:       latencyResult{Name: fmt.Sprintf("lag of a file appended every %v (sampled every %v)", busyInterval, busySample)},
	}
	f, err := os.OpenFile(filepath.Join(src, rel), os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return res, fmt.Errorf("create busy log: %w", err)
	}
	defer f.Close()
	log := &busyLog{}
	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		writeErr = log.write(wctx, f)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(busySample)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if n := copyLines(filepath.Join(dst, rel)); n < 0 {
				res.torn++
			} else {
				res.lag.add(log.lag(n, time.Now()))
			}
		}
	}()
	for i := range repeats {
		name := edits[i%len(edits)]
		marker := fmt.Appendf(nil, "busy %d %d\n", i, time.Now().UnixNano())
		content := append(bytes.Repeat([]byte("line of text that stays the same\n"), 30), marker...)
		res.unrelated.add(b.timeChange(ctx, filepath.Join(src, name), filepath.Join(dst, name), content, marker, nil))
		time.Sleep(busyGap)
	}
	stopWriter()
	wg.Wait()
	if writeErr != nil {
		return res, writeErr
	}
	// The whole log arrives once the writes stop.
	last := busyLine(log.lines() - 1)
	if _, err := waitFor(ctx, filepath.Join(dst, rel), last, latencyTimeout); err != nil {
		return res, fmt.Errorf("busy log after the writes stopped: %w", err)
	}
	return res, nil
}
