package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// latencyResult is the distribution of one kind of live change's
// propagation time, in milliseconds.
type latencyResult struct {
	Name     string    `json:"name"`
	Samples  []float64 `json:"samples_ms"`
	P50      float64   `json:"p50_ms"`
	P90      float64   `json:"p90_ms"`
	Max      float64   `json:"max_ms"`
	Timeouts int       `json:"timeouts"`
}

// liveResult is the outcome of W1.
type liveResult struct {
	Latencies []latencyResult `json:"latencies"`
	// BusyTorn counts the samples of the busy log's server copy that
	// were not a prefix of the log.
	BusyTorn int `json:"busy_torn"`
	// IdleSec is the window the idle CPU was measured over.
	IdleSec          float64 `json:"idle_window_sec"`
	IdleClientCPUSec float64 `json:"idle_client_cpu_sec"`
	IdleServerCPUSec float64 `json:"idle_server_cpu_sec"`
	ClientRSSKiB     int64   `json:"client_peak_rss_kib"`
	ServerRSSKiB     int64   `json:"server_peak_rss_kib"`
	Error            string  `json:"error,omitempty"`
}

// latencyTimeout bounds the wait for one change to reach the server.
const latencyTimeout = 30 * time.Second

// runLive runs W1: a watching dirsync client on a synced copy of the small
// tree, timing how long single changes take to reach the server's tree.
func (b *bench) runLive(ctx context.Context, small string) liveResult {
	res, err := b.live(ctx, small)
	if err != nil {
		res.Error = err.Error()
		b.log.Error("W1 failed", "error", err)
	}
	return res
}

func (b *bench) live(ctx context.Context, small string) (liveResult, error) {
	var res liveResult
	log := b.log.With("scenario", "W1")
	src := filepath.Join(b.work, "live-src")
	if err := b.trash.discard(b.dest, false); err != nil {
		return res, err
	}
	if err := copyTree(small, src); err != nil {
		return res, err
	}
	if err := copyTree(small, b.dest); err != nil {
		return res, err
	}
	bigRel := "live-big.bin"
	if err := writeRandomFile(filepath.Join(src, bigRel), b.cfg.BigRewriteBytes, b.cfg.Seed+10); err != nil {
		return res, err
	}
	// The small files rewritten later exist from the start, so each
	// change is a rewrite.
	for i := range 5 {
		p := filepath.Join(src, fmt.Sprintf("live-edit-%d.txt", i))
		if err := os.WriteFile(p, []byte("initial content\n"), 0o644); err != nil {
			return res, fmt.Errorf("create live file: %w", err)
		}
	}
	syscall.Sync()

	srv, err := startDirsyncServer(ctx, b.serverBin, b.dest)
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	client := exec.CommandContext(ctx, b.clientBin, "--dir", src, "--server", "http://"+srv.addr, "--log-level", "warn")
	var clientOut lockedBuffer
	client.Stdout, client.Stderr = &clientOut, &clientOut
	client.Env = append(client.Environ(), "NO_COLOR=1")
	if err := client.Start(); err != nil {
		return res, fmt.Errorf("start watching client: %w", err)
	}
	clientDone := make(chan struct{})
	go func() { _ = client.Wait(); close(clientDone) }() // exit status unused
	defer func() {
		_ = client.Process.Signal(syscall.SIGTERM)
		select {
		case <-clientDone:
		case <-time.After(10 * time.Second):
			_ = client.Process.Kill()
			<-clientDone
		}
		if res.Error != "" {
			log.Error("watching client output", "output", tail(clientOut.String(), 20))
		}
	}()

	// The initial sync is done once the big file has arrived whole.
	bigSum, err := os.ReadFile(filepath.Join(src, bigRel))
	if err != nil {
		return res, fmt.Errorf("read live big file: %w", err)
	}
	if _, err := waitFor(ctx, filepath.Join(b.dest, bigRel), bigSum[len(bigSum)-64:], 5*time.Minute); err != nil {
		return res, fmt.Errorf("initial sync of the live tree: %w (client: %s)", err, tail(clientOut.String(), 5))
	}
	log.Info("watching client in sync; timing live changes")
	time.Sleep(500 * time.Millisecond)

	small1 := latencyResult{Name: "rewrite one small file"}
	for i := range b.cfg.LatencyRepeats {
		rel := fmt.Sprintf("live-edit-%d.txt", i%5)
		marker := []byte(fmt.Sprintf("marker %d %d\n", i, time.Now().UnixNano()))
		content := append(bytes.Repeat([]byte("line of text that stays the same\n"), 30), marker...)
		small1.add(b.timeChange(ctx, filepath.Join(src, rel), filepath.Join(b.dest, rel), content, marker, nil))
		time.Sleep(b.cfg.LatencyGap)
	}
	deep := latencyResult{Name: "new file in a new 5-deep directory"}
	for i := range b.cfg.LatencyRepeats {
		rel := filepath.Join(fmt.Sprintf("live-new-%d", i), "a", "b", "c", "d", "new.txt")
		marker := []byte(fmt.Sprintf("new %d %d\n", i, time.Now().UnixNano()))
		mkdir := func() error { return os.MkdirAll(filepath.Dir(filepath.Join(src, rel)), 0o755) }
		deep.add(b.timeChange(ctx, filepath.Join(src, rel), filepath.Join(b.dest, rel), marker, marker, mkdir))
		time.Sleep(b.cfg.LatencyGap)
	}
	big := latencyResult{Name: "rewrite a " + humanBytes(b.cfg.BigRewriteBytes) + " file"}
	for i := range b.cfg.BigRepeats {
		content := make([]byte, b.cfg.BigRewriteBytes)
		_, _ = newChaCha(b.cfg.Seed + 100 + uint64(i)).Read(content) // never fails
		marker := []byte(fmt.Sprintf("big %d %d", i, time.Now().UnixNano()))
		copy(content[len(content)-len(marker):], marker)
		big.add(b.timeChange(ctx, filepath.Join(src, bigRel), filepath.Join(b.dest, bigRel), content, marker, nil))
		time.Sleep(b.cfg.LatencyGap)
	}
	var edits []string
	for i := range 5 {
		edits = append(edits, fmt.Sprintf("live-edit-%d.txt", i))
	}
	busy, err := b.timeBusyWriter(ctx, src, b.dest, "live-busy.log", edits, b.cfg.LatencyRepeats)
	if err != nil {
		return res, err
	}
	res.BusyTorn = busy.torn
	res.Latencies = []latencyResult{small1, deep, big, busy.unrelated, busy.lag}
	for _, l := range res.Latencies {
		log.Info("live latency", "change", l.Name, "p50_ms", l.P50, "p90_ms", l.P90, "max_ms", l.Max, "timeouts", l.Timeouts)
	}

	// Idle CPU: nothing changes, both processes should sleep.
	time.Sleep(2 * time.Second)
	c0, err1 := cpuSeconds(client.Process.Pid)
	s0, err2 := cpuSeconds(srv.PID())
	time.Sleep(b.cfg.IdleWindow)
	c1, err3 := cpuSeconds(client.Process.Pid)
	s1, err4 := cpuSeconds(srv.PID())
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return res, fmt.Errorf("idle cpu: %w", err)
	}
	res.IdleSec = b.cfg.IdleWindow.Seconds()
	res.IdleClientCPUSec, res.IdleServerCPUSec = c1-c0, s1-s0
	res.ClientRSSKiB, _ = readVmHWM(client.Process.Pid) // zero if unreadable
	res.ServerRSSKiB, _ = readVmHWM(srv.PID())
	log.Info("idle cpu", "window", b.cfg.IdleWindow, "client_cpu_sec", res.IdleClientCPUSec, "server_cpu_sec", res.IdleServerCPUSec)
	if small1.Timeouts+deep.Timeouts+big.Timeouts+busy.unrelated.Timeouts > 0 {
		return res, errors.New("some live changes never reached the server")
	}
	if busy.torn > 0 {
		return res, fmt.Errorf("the server's copy of the busy log was not a prefix of it %d times", busy.torn)
	}
	return res, nil
}

// add records one sample; a negative one is a timeout.
func (l *latencyResult) add(d time.Duration) {
	if d < 0 {
		l.Timeouts++
	} else {
		l.Samples = append(l.Samples, float64(d.Microseconds())/1000)
	}
	l.P50, l.P90 = percentile(l.Samples, 50), percentile(l.Samples, 90)
	l.Max = percentile(l.Samples, 100)
}

// timeChange runs before (if any), writes content to src and returns how
// long it took until dst ends with marker, or -1 after latencyTimeout. The
// clock starts before before runs.
func (b *bench) timeChange(ctx context.Context, src, dst string, content, marker []byte, before func() error) time.Duration {
	start := time.Now()
	if before != nil {
		if err := before(); err != nil {
			b.log.Error("prepare live change", "error", err)
			return -1
		}
	}
	if err := os.WriteFile(src, content, 0o644); err != nil {
		b.log.Error("write live change", "error", err)
		return -1
	}
	if _, err := waitFor(ctx, dst, marker, latencyTimeout); err != nil {
		b.log.Error("live change did not arrive", "path", dst, "error", err)
		return -1
	}
	return time.Since(start)
}

// waitFor polls path every millisecond until its last bytes equal suffix,
// and returns the time since the call.
func waitFor(ctx context.Context, path string, suffix []byte, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	buf := make([]byte, len(suffix))
	for {
		if f, err := os.Open(path); err == nil {
			fi, err := f.Stat()
			if err == nil && fi.Size() >= int64(len(suffix)) {
				if _, err := f.ReadAt(buf, fi.Size()-int64(len(suffix))); (err == nil || err == io.EOF) && bytes.Equal(buf, suffix) {
					f.Close()
					return time.Since(start), nil
				}
			}
			f.Close()
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s did not get the expected content within %v", path, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}
