package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
)

// newLogger returns the logger of the binary: text or JSON records at
// level on w, each tagged component=server so that the lines of a server
// and a client sharing a terminal (make demo) tell apart.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("component", "server")
}

// checkLogFormat checks the value of --log-format.
func checkLogFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--log-format %q: want text or json", format)
	}
	return nil
}

// exposed reports whether addr, which a listener is bound to, can be
// reached from beyond this machine: any address but a loopback one.
func exposed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return !ok || !tcp.IP.IsLoopback()
}
