package main

import (
	"io"
	"log/slog"
)

// newLogger returns the logger of the binary: text or JSON records at
// level on w, each tagged component=client so that the lines of a client
// and a server sharing a terminal (make demo) tell apart.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("component", "client")
}
