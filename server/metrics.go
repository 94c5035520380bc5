package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/proto"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// SingleTenant is the value of the tenant label of a server without
// tenants (--root). Tenant names cannot collide with it, since a server
// either has tenants or has none.
const SingleTenant = "default"

// Metrics exposes what servers do as Prometheus metrics, labelled by
// tenant. Build it with [NewMetrics], hand it to every [Server] (or the
// [Router]) in [Options.Metrics], and serve [Metrics.Handler]. It is safe
// for concurrent use.
//
// The totals the Status RPC reports are read from each Server's own
// counters when the metrics are scraped, not counted twice; the interceptor
// adds what only the RPC layer sees: requests by procedure and code,
// streams open and response bytes.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	streams  *prometheus.GaugeVec
	sent     *prometheus.CounterVec
	// syncDelay is the time from a client seeing a change to the server
	// holding it durably, as far as the client reports when it saw it.
	syncDelay *prometheus.HistogramVec

	mu      sync.Mutex
	servers []labelledServer
}

// labelledServer is a Server and its tenant label.
type labelledServer struct {
	tenant string
	srv    *Server
}

// NewMetrics returns Metrics on a registry of their own, which also holds
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_server_requests_total",
			Help: "RPCs finished, by tenant, procedure and Connect code (ok for success).",
		}, []string{"tenant", "rpc", "code"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_server_open_streams",
			Help: "Streaming RPCs running, by tenant and procedure; WatchChanges streams are the watching clients.",
		}, []string{"tenant", "rpc"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_server_sent_bytes_total",
			Help: "Bytes of response messages sent, before compression, by tenant.",
		}, []string{"tenant"}),
		syncDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dirsync_server_change_durable_seconds",
			Help:    "Time from a client seeing a change to the server holding it durably, for changes whose client reported when it saw them.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"tenant"}),
	}
	m.reg.MustRegister(m.requests, m.streams, m.sent, m.syncDelay, statsCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// add makes the counters of s part of the metrics, under tenant.
func (m *Metrics) add(tenant string, s *Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.servers = append(m.servers, labelledServer{tenant, s})
}

// observeSync records that a change a client saw at seenNs (Unix
// nanoseconds by the client's clock) is now held as the server answers
// for it. 0 means the client did not say, and is not recorded; a time in
// the future (a client's clock ahead of the server's) counts as zero. The
// value is only ever a sample here, so a peer's nonsense costs nothing.
func (m *Metrics) observeSync(tenant string, seenNs int64) {
	if m == nil || seenNs <= 0 {
		return
	}
	m.syncDelay.WithLabelValues(tenant).Observe(max(time.Since(time.Unix(0, seenNs)).Seconds(), 0))
}

// tenantLabel returns the tenant label of an RPC with ctx.
func tenantLabel(ctx context.Context) string {
	if t, ok := tenantFrom(ctx); ok {
		return t.cfg.Name
	}
	return SingleTenant
}

// rpcLabel returns the method name of a procedure, "/pkg.Service/Method".
func rpcLabel(procedure string) string {
	return procedure[strings.LastIndexByte(procedure, '/')+1:]
}

// codeLabel returns the Connect code of err as a label, "ok" for nil.
func codeLabel(err error) string {
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}

// statsDesc describes a counter of [stats] as a metric.
type statsDesc struct {
	desc *prometheus.Desc
	load func(*stats) int64
}

// statsDescs are the counters of [stats] that the metrics expose.
var statsDescs = []statsDesc{
	{prometheus.NewDesc("dirsync_server_received_bytes_total",
		"Bytes of request messages received, after decompression.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.bytesReceived.Load() }},
	{prometheus.NewDesc("dirsync_server_files_written_total",
		"Files written into the tree, uploaded or copied from content held.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.filesWritten.Load() }},
	{prometheus.NewDesc("dirsync_server_entries_deleted_total",
		"Entries deleted from the tree.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.entriesDeleted.Load() }},
	{prometheus.NewDesc("dirsync_server_literal_bytes_total",
		"File bytes received as literals, not copied from a base.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.literalBytes.Load() }},
	{prometheus.NewDesc("dirsync_server_delta_saved_bytes_total",
		"File bytes copied from the old version instead of being sent.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.deltaSavedBytes.Load() }},
	{prometheus.NewDesc("dirsync_server_dedup_saved_bytes_total",
		"File bytes copied from identical content already held instead of being sent.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.dedupSavedBytes.Load() }},
	{prometheus.NewDesc("dirsync_server_failures_total",
		"Changes and uploads that failed.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.failures.Load() }},
	{prometheus.NewDesc("dirsync_server_durable_syncs_total",
		"Syncs to disk the server waited for before answering.", []string{"tenant"}, nil),
		func(st *stats) int64 { return st.durableSyncs.Load() }},
}

// lastChangeDesc describes the time of the last change.
var lastChangeDesc = prometheus.NewDesc("dirsync_server_last_change_timestamp_seconds",
	"Unix time of the last change to the tree; absent until the first.", []string{"tenant"}, nil)

// statsCollector reads the [stats] of every Server of m at each scrape.
type statsCollector struct{ m *Metrics }

// Describe implements [prometheus.Collector].
func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statsDescs {
		ch <- d.desc
	}
	ch <- lastChangeDesc
}

// Collect implements [prometheus.Collector].
func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	servers := c.m.servers
	c.m.mu.Unlock()
	for _, ls := range servers {
		for _, d := range statsDescs {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.load(&ls.srv.stats)), ls.tenant)
		}
		if ns := ls.srv.stats.lastChangeNs.Load(); ns != 0 {
			ch <- prometheus.MustNewConstMetric(lastChangeDesc, prometheus.GaugeValue, float64(ns)/1e9, ls.tenant)
		}
	}
}

// interceptor returns the Connect interceptor that counts requests,
// streams and response bytes; it passes everything through when m is nil.
func (m *Metrics) interceptor() connect.Interceptor {
	return metricsInterceptor{m}
}

// metricsInterceptor is [Metrics.interceptor].
type metricsInterceptor struct{ m *Metrics }

// WrapUnary implements [connect.Interceptor].
func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	if i.m == nil {
		return next
	}
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		tenant := tenantLabel(ctx)
		i.m.requests.WithLabelValues(tenant, rpcLabel(req.Spec().Procedure), codeLabel(err)).Inc()
		if err == nil && resp != nil {
			if msg, ok := resp.Any().(proto.Message); ok {
				i.m.sent.WithLabelValues(tenant).Add(float64(proto.Size(msg)))
			}
		}
		return resp, err
	}
}

// WrapStreamingClient implements [connect.Interceptor]; the server makes
// no calls.
func (metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements [connect.Interceptor].
func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	if i.m == nil {
		return next
	}
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		tenant := tenantLabel(ctx)
		rpc := rpcLabel(conn.Spec().Procedure)
		open := i.m.streams.WithLabelValues(tenant, rpc)
		open.Inc()
		defer open.Dec()
		err := next(ctx, sendCounter{conn, i.m.sent.WithLabelValues(tenant)})
		code := codeLabel(err)
		if errors.Is(err, context.Canceled) {
			code = connect.CodeCanceled.String()
		}
		i.m.requests.WithLabelValues(tenant, rpc, code).Inc()
		return err
	}
}

// sendCounter counts the bytes of the messages a stream sends.
type sendCounter struct {
	connect.StreamingHandlerConn
	bytes prometheus.Counter
}

// Send implements [connect.StreamingHandlerConn].
func (c sendCounter) Send(msg any) error {
	if err := c.StreamingHandlerConn.Send(msg); err != nil {
		return err
	}
	if pm, ok := msg.(proto.Message); ok {
		c.bytes.Add(float64(proto.Size(pm)))
	}
	return nil
}

// observeBatch records the delay of an ApplyChanges batch the client saw
// at seenNs, once, when any of its changes succeeded.
func (s *Server) observeBatch(seenNs int64, results []*dirsyncv1.ChangeResult) {
	for _, r := range results {
		if r.GetCode() == 0 {
			s.metrics.observeSync(s.tenant, seenNs)
			return
		}
	}
}
