package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/server"
)

// serveMetrics serves m at /metrics on ln, a listener of its own: the
// metrics name every tenant, and the main port would have to guard them
// with credentials or leak those names to every client; a separate
// address, bound to loopback or a monitoring network, is how operators
// scrape other services. Close the returned server to stop.
func serveMetrics(ln net.Listener, m *server.Metrics, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "error", err)
		}
	}()
	return hs
}
