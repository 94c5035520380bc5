package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// countingProxy forwards TCP connections from a loopback port to a target
// address and counts the bytes in each direction. Both tools' clients talk
// to their server through one, so bytes on the wire are counted the same
// way for both: TCP payload, without TCP/IP headers. It is safe for
// concurrent use.
type countingProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	up     atomic.Int64 // client to server
	down   atomic.Int64 // server to client

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startProxy listens on a free loopback port and forwards to target.
func startProxy(target string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	p := &countingProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *countingProxy) Addr() string { return p.ln.Addr().String() }

func (p *countingProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, s)
		p.wg.Add(2)
		go p.pipe(s, c, &p.up)
		go p.pipe(c, s, &p.down)
	}
}

func (p *countingProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

// pipe copies src to dst, counts the bytes and half-closes dst at the end.
// io.Copy between TCP connections uses splice, so the proxy adds little
// CPU to either tool.
func (p *countingProxy) pipe(dst, src net.Conn, n *atomic.Int64) {
	defer p.wg.Done()
	copied, _ := io.Copy(dst, src) // an error ends the stream, like EOF
	n.Add(copied)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	if tc, ok := src.(*net.TCPConn); ok {
		_ = tc.CloseRead()
	}
}

// Close stops accepting, waits up to grace for open connections to drain,
// then cuts them, and returns the bytes counted each way.
func (p *countingProxy) Close(grace time.Duration) (up, down int64) {
	p.ln.Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		<-done
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return p.up.Load(), p.down.Load()
}
