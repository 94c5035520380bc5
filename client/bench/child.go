package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childResult is what running one client process measured.
type childResult struct {
	Wall time.Duration
	// PeakRSSKiB sums the sampled VmHWM of the process and its children.
	PeakRSSKiB int64
	// RUMaxRSSKiB is ru_maxrss, which includes the harness's own peak RSS
	// (see treeHWMSampler), kept for reference only.
	RUMaxRSSKiB int64
	CPUSec      float64 // user plus system CPU
	ExitCode    int
	Output      string // stdout and stderr, interleaved
}

// runChild runs name with args to completion and measures it. The wall time
// spans start to exit. A non-zero exit is reported in ExitCode, not as an
// error; the error is for processes that could not run at all.
func runChild(ctx context.Context, env []string, name string, args ...string) (childResult, error) {
	var out lockedBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	err := cmd.Start()
	var sampler *treeHWMSampler
	if err == nil {
		sampler = sampleTreeHWM(cmd.Process.Pid, true, 20*time.Millisecond)
		err = cmd.Wait()
	}
	res := childResult{Wall: time.Since(start), Output: out.String()}
	if sampler != nil {
		res.PeakRSSKiB, _ = sampler.Stop()
	}
	if cmd.ProcessState == nil {
		return res, fmt.Errorf("run %s: %w", name, err)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return res, fmt.Errorf("run %s: %w", name, err)
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.RUMaxRSSKiB = ru.Maxrss
	}
	res.CPUSec = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return res, nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes, for a child's
// output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s, for error reports.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
