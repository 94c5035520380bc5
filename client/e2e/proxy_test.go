package e2e_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy is a TCP proxy on a loopback port that forwards to a server and
// counts what each connection carries from the client to the server. It
// cuts its first connection once that has carried cutAfter bytes, like a
// network that fails in the middle of an upload; later connections pass
// untouched.
type cutProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64

	mu    sync.Mutex
	up    []*atomic.Int64 // client-to-server bytes, per connection in order
	conns []net.Conn
	cut   chan struct{} // closed once the first connection is cut
}

// startCutProxy starts a cutProxy in front of target, closed at cleanup.
func startCutProxy(t *testing.T, target string, cutAfter int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, cutAfter: cutAfter, cut: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// url is the proxy's address as a dirsync-client --server URL.
func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

// upBytes returns the client-to-server bytes of every connection so far.
func (p *cutProxy) upBytes() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int64, len(p.up))
	for i, n := range p.up {
		out[i] = n.Load()
	}
	return out
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		first := len(p.up) == 0
		n := new(atomic.Int64)
		p.up = append(p.up, n)
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		// The server's side is only half-closed when the client's side
		// ends or is cut, and drained before it is closed, so that the
		// server reads every byte forwarded to it: closing a socket with
		// unread data would reset it and lose some.
		go func() {
			_, _ = io.Copy(c, s)
			c.Close()
			_, _ = io.Copy(io.Discard, s)
			s.Close()
		}()
		go func() {
			limit := int64(-1)
			if first {
				limit = p.cutAfter
			}
			err := forward(s, c, n, limit)
			if errors.Is(err, errCut) {
				close(p.cut)
			}
			c.Close()
			_ = s.(*net.TCPConn).CloseWrite()
		}()
	}
}

// errCut says that forward stopped at its limit.
var errCut = errors.New("connection cut")

// forward copies src to dst, counting in n, and stops with errCut once
// limit bytes have passed (never when limit is negative).
func forward(dst io.Writer, src io.Reader, n *atomic.Int64, limit int64) error {
	buf := make([]byte, 32<<10)
	for {
		want := int64(len(buf))
		if limit >= 0 {
			want = min(want, limit-n.Load())
			if want <= 0 {
				return errCut
			}
		}
		r, err := src.Read(buf[:want])
		if r > 0 {
			if _, werr := dst.Write(buf[:r]); werr != nil {
				return werr
			}
			n.Add(int64(r))
		}
		if err != nil {
			return err
		}
	}
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
