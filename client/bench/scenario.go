package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"

	"strings"
	"syscall"
	"time"
)

// scenario is one measured sync: a source tree, and the state the server
// starts from.
type scenario struct {
	Name string `json:"name"`
	Desc string `json:"description"`
	// Src is the tree the client syncs from.
	Src string `json:"-"`
	// Base is the tree the server's state is copied from before each run;
	// empty means the server starts with an empty directory.
	Base string `json:"-"`
	// Compress turns on compression for both tools.
	Compress bool `json:"compress"`
	// FewFiles marks trees cheap to delete right away.
	FewFiles bool `json:"-"`
}

// scenarios lists the scenarios in the order they run.
func scenarios(d datasets, cfg config) []scenario {
	big := humanBytes(cfg.LargeBytes)
	return []scenario{
		{Name: "S1", Desc: fmt.Sprintf("initial sync of %d small files", cfg.SmallFiles), Src: d.SmallV0},
		{Name: "S2", Desc: "no-op resync of the small tree", Src: d.SmallV0, Base: d.SmallV0},
		{Name: "S3", Desc: "resync after small edits (" + d.Edits.String() + ")", Src: d.SmallV1, Base: d.SmallV0},
		{Name: "L1", Desc: "initial copy of the " + big + " random file", Src: d.LargeV0, FewFiles: true},
		{Name: "L2", Desc: fmt.Sprintf("resync after %d overwrites of %d bytes", cfg.Overwrites, cfg.OverwriteLen), Src: d.LargeOW, Base: d.LargeV0, FewFiles: true},
		{Name: "L3", Desc: fmt.Sprintf("resync after %d insertions of %d bytes", cfg.Inserts, cfg.InsertLen), Src: d.LargeIns, Base: d.LargeV0, FewFiles: true},
		{Name: "T1", Desc: "initial copy of the " + humanBytes(cfg.TextBytes) + " text file, compressed", Src: d.Text, Compress: true, FewFiles: true},
	}
}

// runResult is one run of one tool on one scenario.
type runResult struct {
	Run     int     `json:"run"`
	WallSec float64 `json:"wall_sec"`
	// WireUp and WireDown are the bytes the proxy forwarded from client to
	// server and back.
	WireUp   int64 `json:"wire_up"`
	WireDown int64 `json:"wire_down"`
	// ClientRSSKiB is the client's sampled VmHWM; ClientRUMaxRSSKiB its
	// ru_maxrss, which the harness's own RSS inflates. ServerRSSKiB is the server's
	// VmHWM (dirsync) or the sum of the sampled VmHWM of the daemon's
	// per-connection processes (rsync).
	ClientRSSKiB      int64   `json:"client_peak_rss_kib"`
	ClientRUMaxRSSKiB int64   `json:"client_ru_maxrss_kib"`
	ServerRSSKiB      int64   `json:"server_peak_rss_kib"`
	ServerProcesses   int     `json:"server_processes,omitempty"`
	ClientCPUSec      float64 `json:"client_cpu_sec"`
	ServerCPUSec      float64 `json:"server_cpu_sec,omitempty"`
	// RsyncStats holds rsync's own byte counts, a cross-check of the proxy.
	RsyncStats *rsyncStats `json:"rsync_stats,omitempty"`
	// ServerBytesReceived is dirsync's Status bytes_received, a cross-check.
	ServerBytesReceived int64        `json:"server_bytes_received,omitempty"`
	ExitCode            int          `json:"exit_code"`
	Verify              verification `json:"verify"`
	Error               string       `json:"error,omitempty"`
}

// Wire is the total bytes both ways.
func (r runResult) Wire() int64 { return r.WireUp + r.WireDown }

// Failed reports whether the run did not produce a verified mirror.
func (r runResult) Failed() bool { return r.Error != "" || r.ExitCode != 0 || !r.Verify.OK() }

// toolResult is every run of one tool on one scenario, with medians.
type toolResult struct {
	Runs            []runResult `json:"runs"`
	WallSec         float64     `json:"median_wall_sec"`
	Wire            float64     `json:"median_wire_bytes"`
	ClientRSSKiB    float64     `json:"median_client_peak_rss_kib"`
	ServerRSSKiB    float64     `json:"median_server_peak_rss_kib"`
	FailedRuns      int         `json:"failed_runs"`
	ToolDescription string      `json:"command"`
}

func (t *toolResult) summarize() {
	var wall, wire, crss, srss []float64
	for _, r := range t.Runs {
		if r.Failed() {
			t.FailedRuns++
		}
		wall = append(wall, r.WallSec)
		wire = append(wire, float64(r.Wire()))
		crss = append(crss, float64(r.ClientRSSKiB))
		srss = append(srss, float64(r.ServerRSSKiB))
	}
	t.WallSec, t.Wire = median(wall), median(wire)
	t.ClientRSSKiB, t.ServerRSSKiB = median(crss), median(srss)
}

// scenarioResult is both tools on one scenario.
type scenarioResult struct {
	scenario
	Dirsync   toolResult `json:"dirsync"`
	Rsync     toolResult `json:"rsync"`
	WallRatio float64    `json:"wall_ratio_dirsync_over_rsync"`
	WireRatio float64    `json:"wire_ratio_dirsync_over_rsync"`
}

// bench holds what every run needs. It is not safe for concurrent use.
type bench struct {
	cfg       config
	log       *slog.Logger
	work      string
	dest      string // the server's tree, for both tools
	serverBin string
	clientBin string
	daemon    *rsyncDaemon
	trash     *trash
}

// runScenario runs sc cfg.Runs times per tool, both tools in each round,
// dirsync first in odd rounds and rsync first in even ones, and
// summarizes.
func (b *bench) runScenario(ctx context.Context, sc scenario) scenarioResult {
	res := scenarioResult{scenario: sc}
	for i := 1; i <= b.cfg.Runs; i++ {
		if ctx.Err() != nil {
			break
		}
		dirsyncRun := func() {
			res.Dirsync.Runs = append(res.Dirsync.Runs, b.measure(ctx, sc, i, "dirsync", b.runDirsync))
		}
		rsyncRun := func() {
			res.Rsync.Runs = append(res.Rsync.Runs, b.measure(ctx, sc, i, "rsync", b.runRsync))
		}
		if i%2 == 1 {
			dirsyncRun()
			rsyncRun()
		} else {
			rsyncRun()
			dirsyncRun()
		}
	}
	res.Dirsync.summarize()
	res.Rsync.summarize()
	res.Dirsync.ToolDescription = "dirsync-client --once (defaults)"
	res.Rsync.ToolDescription = "rsync " + strings.Join(rsyncFlags(sc), " ")
	res.WallRatio = ratio(res.Dirsync.WallSec, res.Rsync.WallSec)
	res.WireRatio = ratio(res.Dirsync.Wire, res.Rsync.Wire)
	return res
}

// measure prepares the server state, runs one tool and verifies the
// result.
func (b *bench) measure(ctx context.Context, sc scenario, run int, tool string, fn func(context.Context, scenario) runResult) runResult {
	log := b.log.With("scenario", sc.Name, "tool", tool, "run", run)
	if err := b.prepare(sc); err != nil {
		log.Error("prepare server state", "error", err)
		return runResult{Run: run, Error: err.Error()}
	}
	r := fn(ctx, sc)
	r.Run = run
	if r.Error == "" {
		v, err := compareTrees(sc.Src, b.dest)
		if err != nil {
			r.Error = fmt.Sprintf("verify: %v", err)
		}
		r.Verify = v
	}
	switch {
	case r.Error != "":
		log.Error("run failed", "error", r.Error)
	case r.ExitCode != 0:
		log.Error("client exited non-zero", "code", r.ExitCode)
	case !r.Verify.OK():
		log.Error("VERIFICATION FAILED: the server's tree differs from the source", "differences", r.Verify.Total, "first", strings.Join(r.Verify.Diffs, "; "))
	default:
		log.Info("run done", "wall", time.Duration(r.WallSec*float64(time.Second)).Round(time.Millisecond), "wire_bytes", r.Wire(), "client_rss_kib", r.ClientRSSKiB, "server_rss_kib", r.ServerRSSKiB)
	}
	if err := b.trash.discard(b.dest, sc.FewFiles); err != nil {
		log.Error("clear server state", "error", err)
	}
	return r
}

// prepare moves the last server tree aside and copies the scenario's base
// into place, then flushes dirty pages so that writeback of the copy does
// not land in the timed run, and waits cfg.Settle.
//
// The wait makes runs comparable on a virtual machine whose balloon
// reports free memory back to the host: a page the guest freed a few
// seconds ago is cheap to reuse, while one handed back must be faulted in
// again by the host on first touch. Measured here, writing 1 GiB into page
// cache took 0.27 s right after deleting a 1 GiB file and 2.65 s six
// seconds later. Without the wait, whichever tool ran right after the
// other's result was deleted got the cheap pages: the order of the tools,
// not the tools, decided up to 2.5 s of a 1 GiB run. After the wait,
// every run of either tool starts with the pages handed back.
func (b *bench) prepare(sc scenario) error {
	if err := b.trash.discard(b.dest, sc.FewFiles); err != nil {
		return err
	}
	if sc.Base == "" {
		if err := os.Mkdir(b.dest, 0o755); err != nil {
			return fmt.Errorf("create empty server dir: %w", err)
		}
	} else if err := copyTree(sc.Base, b.dest); err != nil {
		return err
	}
	syscall.Sync()
	time.Sleep(b.cfg.Settle)
	return nil
}

// runDirsync starts a fresh server on the prepared tree, then times one
// dirsync-client --once through the counting proxy.
func (b *bench) runDirsync(ctx context.Context, sc scenario) runResult {
	var r runResult
	srv, err := startDirsyncServer(ctx, b.serverBin, b.dest)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer srv.Stop()
	proxy, err := startProxy(srv.addr)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	serverCPU0, _ := cpuSeconds(srv.PID()) // the startup scan is not counted
	// The server has no children; the sampler runs only so that both tools
	// pay the same /proc scanning overhead during their runs.
	sampler := sampleTreeHWM(srv.PID(), false, 50*time.Millisecond)
	c, err := runChild(ctx, []string{"NO_COLOR=1"}, b.clientBin,
		"--dir", sc.Src, "--server", "http://"+proxy.Addr(), "--once")
	r.WireUp, r.WireDown = proxy.Close(10 * time.Second)
	sampler.Stop()
	r.ClientRUMaxRSSKiB = c.RUMaxRSSKiB
	r.WallSec, r.ClientRSSKiB, r.ClientCPUSec, r.ExitCode = c.Wall.Seconds(), c.PeakRSSKiB, c.CPUSec, c.ExitCode
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if c.ExitCode != 0 {
		r.Error = fmt.Sprintf("dirsync-client exited %d: %s", c.ExitCode, tail(c.Output, 10))
	}
	if st, err := srv.Status(ctx); err == nil {
		r.ServerBytesReceived = st.GetBytesReceived()
	} else {
		b.log.Warn("dirsync status", "scenario", sc.Name, "error", err)
	}
	if kib, err := readVmHWM(srv.PID()); err == nil {
		r.ServerRSSKiB = kib
	} else {
		b.log.Warn("server peak rss", "scenario", sc.Name, "error", err)
	}
	if cpu, err := cpuSeconds(srv.PID()); err == nil {
		r.ServerCPUSec = cpu - serverCPU0
	}
	r.ServerProcesses = 1
	return r
}

// rsyncFlags are the client's flags for sc.
func rsyncFlags(sc scenario) []string {
	flags := []string{"-a", "--delete", "--stats"}
	if sc.Compress {
		flags = append(flags, "-z")
	}
	return flags
}

// runRsync times one rsync client run against the daemon through the
// counting proxy, sampling the daemon's per-connection processes.
func (b *bench) runRsync(ctx context.Context, sc scenario) runResult {
	var r runResult
	proxy, err := startProxy(b.daemon.Addr())
	if err != nil {
		r.Error = err.Error()
		return r
	}
	sampler := sampleTreeHWM(b.daemon.PID(), false, 50*time.Millisecond)
	args := append(rsyncFlags(sc), sc.Src+"/", fmt.Sprintf("rsync://%s/%s/", proxy.Addr(), rsyncModule))
	c, err := runChild(ctx, []string{"LC_ALL=C"}, "rsync", args...)
	r.WireUp, r.WireDown = proxy.Close(10 * time.Second)
	// The daemon's children outlive the client briefly; give the sampler
	// one more interval before stopping it.
	time.Sleep(60 * time.Millisecond)
	r.ServerRSSKiB, r.ServerProcesses = sampler.Stop()
	r.ClientRUMaxRSSKiB = c.RUMaxRSSKiB
	r.WallSec, r.ClientRSSKiB, r.ClientCPUSec, r.ExitCode = c.Wall.Seconds(), c.PeakRSSKiB, c.CPUSec, c.ExitCode
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if c.ExitCode != 0 {
		r.Error = fmt.Sprintf("rsync exited %d: %s", c.ExitCode, tail(c.Output, 10))
		return r
	}
	st, err := parseRsyncStats(c.Output)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.RsyncStats = &st
	return r
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	return humanBytesF(float64(n))
}

func humanBytesF(f float64) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", f)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
