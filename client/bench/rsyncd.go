package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rsyncModule is the daemon module the rsync client writes into.
const rsyncModule = "bench"

// rsyncDaemon is an `rsync --daemon` on a loopback port serving one
// writable module at a fixed path. It runs for the whole benchmark; each
// client connection gets its own forked processes.
type rsyncDaemon struct {
	cmd  *exec.Cmd
	port int
	out  *lockedBuffer
	done chan struct{}
}

// startRsyncDaemon writes rsyncd.conf into work and starts the daemon with
// the module's path at dest.
func startRsyncDaemon(ctx context.Context, work, dest string) (*rsyncDaemon, error) {
	// munge symlinks defaults to on without chroot and would rewrite
	// symlink targets, so it is turned off; the daemon runs as the
	// harness's own user, so it may set every mode and owner it is sent.
	conf := fmt.Sprintf(`# Written by the dirsync benchmark harness.
use chroot = false
munge symlinks = false
log file = %s
pid file = %s
uid = %d
gid = %d

[%s]
path = %s
read only = false
`, filepath.Join(work, "rsyncd.log"), filepath.Join(work, "rsyncd.pid"), os.Getuid(), os.Getgid(), rsyncModule, dest)
	confPath := filepath.Join(work, "rsyncd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write rsyncd.conf: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &rsyncDaemon{port: port, out: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = exec.CommandContext(ctx, "rsync", "--daemon", "--no-detach", "--config="+confPath, "--address=127.0.0.1", "--port="+strconv.Itoa(port))
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rsync daemon: %w", err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }() // the exit status is in ProcessState
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
		if err == nil {
			c.Close()
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("rsync daemon exited: %s", tail(d.out.String(), 5))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, errors.New("rsync daemon did not start listening within 10s")
		}
	}
}

// Addr is the daemon's host:port.
func (d *rsyncDaemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// PID is the daemon's process id; connection handlers are its children.
func (d *rsyncDaemon) PID() int { return d.cmd.Process.Pid }

// Stop terminates the daemon and waits for it.
func (d *rsyncDaemon) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// rsyncStats are the byte counts of `rsync --stats`, from the client's
// point of view.
type rsyncStats struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

var statsLine = regexp.MustCompile(`(?m)^Total bytes (sent|received):\s*([0-9][0-9,.]*)\s*$`)

// parseRsyncStats reads "Total bytes sent" and "Total bytes received" from
// the output of `rsync --stats`. Thousands separators (',' or '.', which
// rsync takes from the locale) are dropped.
func parseRsyncStats(out string) (rsyncStats, error) {
	var s rsyncStats
	found := 0
	for _, m := range statsLine.FindAllStringSubmatch(out, -1) {
		digits := strings.NewReplacer(",", "", ".", "").Replace(m[2])
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return s, fmt.Errorf("parse rsync total bytes %s %q: %w", m[1], m[2], err)
		}
		if m[1] == "sent" {
			s.Sent = n
		} else {
			s.Received = n
		}
		found++
	}
	if found != 2 {
		return s, errors.New("rsync --stats output lacks the total bytes lines")
	}
	return s, nil
}

// rsyncVersion returns the first line of `rsync --version`.
func rsyncVersion() (string, error) {
	out, err := exec.Command("rsync", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("rsync --version: %w", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.Join(strings.Fields(first), " "), nil
}
