package client

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pass outcomes, the values of the outcome label of
// dirsync_client_passes_total.
const (
	outcomeOK     = "ok"     // everything the pass covered is mirrored
	outcomeFailed = "failed" // some items failed; they are retried
	outcomeHeld   = "held"   // deletions were held back
	outcomeError  = "error"  // the pass could not go on
)

// Metrics exposes what a [Client] does as Prometheus metrics. Build it
// with [NewMetrics], hand it to the Client in [Options.Metrics] and serve
// [Metrics.Handler]. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	passes       *prometheus.CounterVec
	passDuration prometheus.Histogram
	filesSent    prometheus.Counter
	filesDedup   prometheus.Counter
	deleted      prometheus.Counter
	literal      prometheus.Counter
	matched      prometheus.Counter
	dedupBytes   prometheus.Counter
	lastSuccess  prometheus.Gauge
	held         prometheus.Gauge
	skipped      prometheus.Gauge

	// wire and pending are the sources the scrape reads; set by the
	// Client (see [Metrics.attach]) and by Watch.
	wire    atomic.Pointer[atomic.Int64]
	mu      sync.Mutex
	pending *coalescer
}

// NewMetrics returns Metrics on a registry of their own, which also holds
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_client_passes_total",
			Help: "Sync passes finished, by outcome: ok, failed (some items failed), held (deletions held back) or error (the pass could not go on).",
		}, []string{"outcome"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dirsync_client_pass_duration_seconds",
			Help:    "Duration of sync passes.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 10), // 5 ms to about 22 min
		}),
		filesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_files_sent_total",
			Help: "Files uploaded to the server.",
		}),
		filesDedup: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_files_deduplicated_total",
			Help: "Files the server made from content it already held.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_entries_deleted_total",
			Help: "Entries deleted on the server, a directory with its subtree counting once.",
		}),
		literal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_literal_bytes_total",
			Help: "File bytes sent as literals.",
		}),
		matched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_delta_saved_bytes_total",
			Help: "File bytes the server rebuilt from blocks of its old copies instead of receiving them.",
		}),
		dedupBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_client_dedup_saved_bytes_total",
			Help: "File bytes the server copied from content it already held instead of receiving them.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_client_last_success_timestamp_seconds",
			Help: "Unix time of the end of the last pass whose outcome was ok; 0 until then.",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_client_held_deletions",
			Help: "Entries on the server whose deletion is held back (see -max-delete and -allow-empty).",
		}),
		skipped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_client_skipped_items",
			Help: "Local items skipped because they cannot be mirrored (devices, FIFOs, sockets, bad names).",
		}),
	}
	wireBytes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "dirsync_client_wire_bytes_total",
		Help: "Bytes read from and written to the server's connections, compression and framing included.",
	}, func() float64 {
		if w := m.wire.Load(); w != nil {
			return float64(w.Load())
		}
		return 0
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dirsync_client_pending_paths",
		Help: "Changed paths waiting for the next pass in watch mode (a full pass due counts as one).",
	}, m.pendingPaths)
	m.reg.MustRegister(m.passes, m.passDuration, m.filesSent, m.filesDedup, m.deleted,
		m.literal, m.matched, m.dedupBytes, m.lastSuccess, m.held, m.skipped, wireBytes, pending,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// attach makes c's byte counter the source of the wire metric.
func (m *Metrics) attach(c *Client) {
	if m != nil {
		m.wire.Store(&c.wire)
	}
}

// watching makes co the source of the pending metric, nil when watching
// stops.
func (m *Metrics) watching(co *coalescer) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = co
}

// pendingPaths returns how many paths wait for the next pass.
func (m *Metrics) pendingPaths() float64 {
	m.mu.Lock()
	co := m.pending
	m.mu.Unlock()
	if co == nil {
		return 0
	}
	return float64(co.pendingCount())
}

// pendingCount returns how many paths are pending, a full pass counting as
// one.
func (c *coalescer) pendingCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full {
		return 1
	}
	return len(c.paths)
}

// observePass records a pass of c that ended with sum and err. Dry runs
// are not recorded: they change nothing.
func (m *Metrics) observePass(c *Client, sum Summary, err error) {
	if m == nil || sum.DryRun {
		return
	}
	m.passDuration.Observe(sum.Duration.Seconds())
	m.filesSent.Add(float64(sum.Sent))
	m.filesDedup.Add(float64(sum.Deduplicated))
	m.deleted.Add(float64(sum.Deleted))
	m.literal.Add(float64(sum.LiteralBytes))
	m.matched.Add(float64(sum.MatchedBytes))
	m.dedupBytes.Add(float64(sum.DedupBytes))
	m.skipped.Set(float64(len(c.toldSkipped)))
	switch {
	case sum.Hold != nil:
		m.held.Set(float64(sum.Hold.Entries))
	case c.held == nil:
		m.held.Set(0)
	}
	outcome := outcomeOK
	switch {
	case err != nil:
		outcome = outcomeError
	case sum.Hold != nil:
		outcome = outcomeHeld
	case sum.Failed > 0:
		outcome = outcomeFailed
	}
	m.passes.WithLabelValues(outcome).Inc()
	if outcome == outcomeOK {
		m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	}
}

// noteLocked records that a change arrived now, with c.mu held.
func (c *coalescer) noteLocked() {
	if c.since.IsZero() {
		c.since = time.Now()
	}
}

// takenSince returns, once, when the oldest change of what take last
// returned arrived: zero if take took nothing since the last call.
func (c *coalescer) takenSince() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.taken
	c.taken = time.Time{}
	return t
}
