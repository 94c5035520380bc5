package server

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// metricValue returns the value of the metric name whose labels include
// want, summed over the series that match, and whether any did.
func metricValue(t *testing.T, m *Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	sum, found := 0.0, false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			found = true
			sum += seriesValue(s)
		}
	}
	return sum, found
}

// seriesValue returns the value of a counter or gauge, or the count of a
// histogram.
func seriesValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	}
	return 0
}

func TestMetricsSingleRoot(t *testing.T) {
	m := NewMetrics()
	var logs bytes.Buffer
	env := newEnvOpts(t, "", protocols[1], Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	writeFile(t, env.root, "old.txt", []byte("to be deleted"))
	data := randomBytes(10000, 1)
	reqs := literalUpload(fileEntry("new.bin", data, 0o644, time.Now()), data)
	reqs[0].Header.ObservedAtNs = time.Now().Add(-time.Second).UnixNano()
	env.uploadOne(t, reqs...)
	res := env.applyChanges(t, deleteChange("old.txt")) // observed time unknown
	if res[0].GetCode() != 0 {
		t.Fatalf("delete: %v", res[0])
	}
	if _, err := env.client.GetPartial(testCtx(t), connect.NewRequest(&dirsyncv1.GetPartialRequest{Path: "../escape"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("GetPartial(../escape) = %v, want InvalidArgument", err)
	}
	env.status(t)

	tenant := map[string]string{"tenant": SingleTenant}
	cases := []struct {
		name   string
		labels map[string]string
		check  func(v float64) bool
		want   string
	}{
		{"dirsync_server_files_written_total", tenant, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_entries_deleted_total", tenant, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_received_bytes_total", tenant, func(v float64) bool { return v >= float64(len(data)) }, ">= file size"},
		{"dirsync_server_literal_bytes_total", tenant, func(v float64) bool { return v == float64(len(data)) }, "file size"},
		{"dirsync_server_sent_bytes_total", tenant, func(v float64) bool { return v > 0 }, "> 0"},
		{"dirsync_server_requests_total", map[string]string{"tenant": SingleTenant, "rpc": "Upload", "code": "ok"}, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_requests_total", map[string]string{"rpc": "ApplyChanges", "code": "ok"}, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_requests_total", map[string]string{"rpc": "GetPartial", "code": "invalid_argument"}, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_requests_total", map[string]string{"rpc": "Status", "code": "ok"}, func(v float64) bool { return v == 1 }, "1"},
		{"dirsync_server_open_streams", map[string]string{"rpc": "Upload"}, func(v float64) bool { return v == 0 }, "0"},
		{"dirsync_server_last_change_timestamp_seconds", tenant, func(v float64) bool { return v > 0 }, "> 0"},
		{"dirsync_server_change_durable_seconds", tenant, func(v float64) bool { return v == 1 }, "1 observation"},
	}
	for _, tc := range cases {
		v, ok := metricValue(t, m, tc.name, tc.labels)
		if !ok || !tc.check(v) {
			t.Errorf("%s%v = %v (present %v), want %s", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	if !strings.Contains(logs.String(), `msg="deleted entries" count=1 paths=[old.txt]`) {
		t.Errorf("no deletion logged; logs:\n%s", logs.String())
	}
}

func TestMetricsPerTenant(t *testing.T) {
	m := NewMetrics()
	cfg := Config{Tenants: []Tenant{
		{Name: "a", Root: t.TempDir(), TokenHashes: hashes(tokenA)},
		{Name: "b", Root: t.TempDir(), TokenHashes: hashes(tokenB)},
	}}
	r, err := NewRouter(cfg, Options{Metrics: m})
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	hs := httptest.NewUnstartedServer(r.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	env := &tenantEnv{hs: hs}
	a := env.client(t, protocols[1], "Bearer "+tokenA)
	data := []byte("tenant a's file")
	a.uploadOne(t, literalUpload(fileEntry("a.txt", data, 0o644, time.Now()), data)...)

	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"dirsync_server_files_written_total", map[string]string{"tenant": "a"}, 1},
		{"dirsync_server_files_written_total", map[string]string{"tenant": "b"}, 0},
		{"dirsync_server_requests_total", map[string]string{"tenant": "a", "rpc": "Upload", "code": "ok"}, 1},
	}
	for _, tc := range cases {
		if v, _ := metricValue(t, m, tc.name, tc.labels); v != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, v, tc.want)
		}
	}
	if _, ok := metricValue(t, m, "dirsync_server_requests_total", map[string]string{"tenant": SingleTenant}); ok {
		t.Errorf("requests counted under %q in a server with tenants", SingleTenant)
	}
}
