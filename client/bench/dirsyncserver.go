package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"syscall"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// dirsyncServer is a running dirsync-server on a free loopback port.
type dirsyncServer struct {
	cmd  *exec.Cmd
	addr string
	out  *lockedBuffer
	done chan struct{}
}

var addrLine = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// startDirsyncServer starts bin on root and waits until it logs the address
// it listens on, which it does after its startup scan of root.
func startDirsyncServer(ctx context.Context, bin, root string) (*dirsyncServer, error) {
	s := &dirsyncServer{out: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, bin, "--root", root, "--listen", "127.0.0.1:0")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.Env = append(s.cmd.Environ(), "NO_COLOR=1")
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dirsync-server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }() // the exit status is in ProcessState
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := addrLine.FindStringSubmatch(s.out.String()); m != nil {
			s.addr = m[1]
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("dirsync-server exited early: %s", tail(s.out.String(), 5))
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.Stop()
	return nil, fmt.Errorf("dirsync-server did not report its address: %s", tail(s.out.String(), 5))
}

// PID is the server's process id.
func (s *dirsyncServer) PID() int { return s.cmd.Process.Pid }

// Status calls the server's Status RPC directly, not through a proxy.
func (s *dirsyncServer) Status(ctx context.Context) (*dirsyncv1.StatusResponse, error) {
	c := dirsyncv1connect.NewSyncServiceClient(http.DefaultClient, "http://"+s.addr)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
	if err != nil {
		return nil, fmt.Errorf("status rpc: %w", err)
	}
	return res.Msg, nil
}

// Stop sends SIGTERM and waits for the server to exit, killing it after 15
// seconds.
func (s *dirsyncServer) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Output is everything the server logged so far.
func (s *dirsyncServer) Output() string { return s.out.String() }
