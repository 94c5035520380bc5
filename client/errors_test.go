package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
)

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unavailable", connect.NewError(connect.CodeUnavailable, errors.New("down")), true},
		{"deadline", connect.NewError(connect.CodeDeadlineExceeded, errors.New("slow")), true},
		{"wrapped unavailable", fmt.Errorf("get manifest: %w", connect.NewError(connect.CodeUnavailable, errors.New("x"))), true},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"cancelled", context.Canceled, false},
		{"cancelled code", connect.NewError(connect.CodeCanceled, context.Canceled), false},
		{"cancelled by a reset", connect.NewError(connect.CodeCanceled, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"invalid argument", connect.NewError(connect.CodeInvalidArgument, errors.New("bad")), false},
		{"internal", connect.NewError(connect.CodeInternal, errors.New("bug")), false},
		{"aborted", connect.NewError(connect.CodeAborted, errors.New("base changed")), false},
		{"resource exhausted", connect.NewError(connect.CodeResourceExhausted, errors.New("disk full")), false},
		{"local error", errors.New("invalid manifest"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transient(tt.err); got != tt.want {
				t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Options{Dir: t.TempDir(), ServerURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.runPass(context.Background(), nil, false)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("pass against a closed port: %v, want ErrUnavailable", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := newBackoff(200*time.Millisecond, 10*time.Second)
		b.rand = func() float64 { return r }
		prevStep := time.Duration(0)
		for i := range 12 {
			d := b.next()
			step := b.cur
			if step < prevStep {
				t.Errorf("rand %v, attempt %d: step shrank from %v to %v", r, i, prevStep, step)
			}
			if step > 10*time.Second {
				t.Errorf("rand %v, attempt %d: step %v above the maximum", r, i, step)
			}
			if d < step/2 || d > step {
				t.Errorf("rand %v, attempt %d: delay %v outside [%v, %v]", r, i, d, step/2, step)
			}
			if i == 0 && step != 200*time.Millisecond {
				t.Errorf("first step %v, want 200ms", step)
			}
			prevStep = step
		}
		if prevStep != 10*time.Second {
			t.Errorf("step after 12 attempts %v, want the 10s cap", prevStep)
		}
		b.reset()
		if b.next(); b.cur != 200*time.Millisecond {
			t.Errorf("after reset step %v, want 200ms", b.cur)
		}
	}
}
