package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsAddrPattern finds the metrics address in a text or JSON log.
var metricsAddrPattern = regexp.MustCompile(`serving metrics[^\n]*?\baddr"?[=:]"?(127\.0\.0\.1:\d+)`)

// waitMetricsAddr waits until p logs where it serves its metrics.
func waitMetricsAddr(t *testing.T, p *process) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := metricsAddrPattern.FindStringSubmatch(p.output.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never said where it serves metrics:\n%s", p.cmd.Path, p.output.String())
	return ""
}

// scrape reads the metrics served at addr.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s\n%s", addr, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics of %s: %v", addr, err)
	}
	return families
}

// sample returns the sum of the series of name whose labels include want
// (a counter's or gauge's value), and whether there was any.
func sample(families map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

// TestMetricsAfterSync syncs a tree with a watching client while both
// binaries serve metrics, and checks the scraped values against the work
// done.
func TestMetricsAfterSync(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	const files, copies = 12, 3
	for i := range files {
		writeFile(t, src, fmt.Sprintf("d%d/f%02d.txt", i%3, i), []byte(strings.Repeat(fmt.Sprintf("file %d ", i), 500)), 0o644)
	}
	same := []byte(strings.Repeat("the same content in every copy ", 300))
	for i := range copies {
		writeFile(t, src, fmt.Sprintf("copies/c%d.txt", i), same, 0o644)
	}
	s := startServer(t, dst, "--metrics-listen", "127.0.0.1:0")
	serverMetrics := waitMetricsAddr(t, s.process)
	c := startWatch(t, src, s, "--metrics-listen", "127.0.0.1:0", "--log-format", "json")
	clientMetrics := waitMetricsAddr(t, c)
	waitMirror(t, src, dst, 30*time.Second)
	// Content the server holds already is copied there, not sent; a
	// removed file is deleted there. The copy appears whole, by a rename:
	// written in place, a pass may start on its first event and send it
	// empty before the next pass copies it, which is right but would
	// count one more file written.
	staging := t.TempDir()
	writeFile(t, staging, "again.txt", same, 0o644)
	if err := os.Rename(filepath.Join(staging, "again.txt"), filepath.Join(src, "copies", "again.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "d0", "f00.txt")); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, src, dst, 30*time.Second)
	const written = files + copies + 1

	var cm map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		cm = scrape(t, clientMetrics)
		if n, _ := sample(cm, "dirsync_client_entries_deleted_total"); n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ok pass in the client's metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sm := scrape(t, serverMetrics)
	tenant := []string{"tenant", "default"}
	checks := []struct {
		name   string
		fams   map[string]*dto.MetricFamily
		metric string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"server files written", sm, "dirsync_server_files_written_total", tenant, eq(written), fmt.Sprint(written)},
		{"server deletions", sm, "dirsync_server_entries_deleted_total", tenant, eq(1), "1"},
		{"server bytes received", sm, "dirsync_server_received_bytes_total", tenant, gt(0), "> 0"},
		{"server bytes sent", sm, "dirsync_server_sent_bytes_total", tenant, gt(0), "> 0"},
		{"server dedup saved", sm, "dirsync_server_dedup_saved_bytes_total", tenant, ge(float64(len(same))), ">= one copy"},
		{"server uploads ok", sm, "dirsync_server_requests_total", []string{"tenant", "default", "rpc", "Upload", "code", "ok"}, gt(0), "> 0"},
		{"server manifests ok", sm, "dirsync_server_requests_total", []string{"rpc", "GetManifest", "code", "ok"}, gt(0), "> 0"},
		{"server no errors", sm, "dirsync_server_failures_total", tenant, eq(0), "0"},
		{"server change delays", sm, "dirsync_server_change_durable_seconds", tenant, ge(2), ">= 2 observations"},
		{"server watching clients", sm, "dirsync_server_open_streams", []string{"rpc", "WatchChanges"}, eq(1), "1"},
		{"client files sent or deduplicated", cm, "dirsync_client_files_sent_total", nil, func(v float64) bool {
			d, _ := sample(cm, "dirsync_client_files_deduplicated_total")
			return v+d == written && d >= 1
		}, "sent + deduplicated = files written, one deduplicated at least"},
		{"client passes ok", cm, "dirsync_client_passes_total", []string{"outcome", "ok"}, ge(2), ">= 2"},
		{"client deletions", cm, "dirsync_client_entries_deleted_total", nil, eq(1), "1"},
		{"client wire bytes", cm, "dirsync_client_wire_bytes_total", nil, gt(0), "> 0"},
		{"client last success", cm, "dirsync_client_last_success_timestamp_seconds", nil, gt(0), "> 0"},
		{"client pass durations", cm, "dirsync_client_pass_duration_seconds", nil, ge(1), ">= 1 observation"},
		{"client nothing held", cm, "dirsync_client_held_deletions", nil, eq(0), "0"},
		{"client nothing skipped", cm, "dirsync_client_skipped_items", nil, eq(0), "0"},
		{"client no failed passes", cm, "dirsync_client_passes_total", []string{"outcome", "failed"}, eq(0), "0"},
	}
	for _, tc := range checks {
		v, found := sample(tc.fams, tc.metric, tc.labels...)
		if !found && tc.want != "0" {
			t.Errorf("%s: %s%v missing", tc.name, tc.metric, tc.labels)
			continue
		}
		if !tc.ok(v) {
			t.Errorf("%s: %s%v = %v, want %s", tc.name, tc.metric, tc.labels, v, tc.want)
		}
	}

	if !strings.Contains(s.output.String(), `msg="deleted entries" component=server count=1 paths=[d0/f00.txt]`) {
		t.Errorf("the server did not log the deletion")
	}

	// Every log line says which binary wrote it; the client's are JSON.
	for _, line := range lines(c.output.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("client log line is not JSON: %q", line)
			continue
		}
		if rec["component"] != "client" {
			t.Errorf("client log line without component=client: %q", line)
		}
	}
	for _, line := range lines(s.output.String()) {
		if !strings.Contains(line, " component=server ") {
			t.Errorf("server log line without component=server: %q", line)
		}
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(min float64) func(float64) bool  { return func(v float64) bool { return v > min } }
func ge(min float64) func(float64) bool  { return func(v float64) bool { return v >= min } }

// TestServerWarnsWhenExposed starts the server on every interface with
// neither TLS nor tokens, and on loopback, and checks that only the first
// warns.
func TestServerWarnsWhenExposed(t *testing.T) {
	cases := []struct {
		name   string
		listen string
		warn   bool
	}{
		{"all interfaces", "0.0.0.0:0", true},
		{"loopback", "127.0.0.1:0", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, "dirsync-server", "--root", t.TempDir(), "--listen", tc.listen)
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(p.output.String(), `msg=listening`) {
				if time.Now().After(deadline) {
					t.Fatalf("the server never said it listens:\n%s", p.output.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			p.stop(t)
			warned := strings.Contains(p.output.String(), "level=WARN msg=\"listening beyond loopback with neither TLS nor tokens")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v; output:\n%s", warned, tc.warn, p.output.String())
			}
		})
	}
}
