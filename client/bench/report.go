package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// report is everything one benchmark run measured; it is written as
// results.json and rendered as results.md.
type report struct {
	Machine   machine          `json:"machine"`
	Config    config           `json:"config"`
	Duration  float64          `json:"duration_sec"`
	Scenarios []scenarioResult `json:"scenarios"`
	Live      *liveResult      `json:"live,omitempty"`
	Failures  []string         `json:"failures,omitempty"`
}

// failures lists every failed run and live check, for the exit status and
// the top of results.md.
func (r *report) collectFailures() {
	r.Failures = nil
	for _, s := range r.Scenarios {
		for tool, t := range map[string]toolResult{"dirsync": s.Dirsync, "rsync": s.Rsync} {
			for _, run := range t.Runs {
				if !run.Failed() {
					continue
				}
				msg := fmt.Sprintf("%s %s run %d: ", s.Name, tool, run.Run)
				switch {
				case run.Error != "":
					msg += run.Error
				case run.ExitCode != 0:
					msg += fmt.Sprintf("client exited %d", run.ExitCode)
				default:
					msg += fmt.Sprintf("verification failed, %d differences: %s", run.Verify.Total, strings.Join(run.Verify.Diffs, "; "))
				}
				r.Failures = append(r.Failures, msg)
			}
		}
	}
	if r.Live != nil && r.Live.Error != "" {
		r.Failures = append(r.Failures, "W1: "+r.Live.Error)
	}
}

// writeJSON writes results.json into dir.
func (r *report) writeJSON(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	return nil
}

// writeMarkdown writes results.md into dir.
func (r *report) writeMarkdown(dir string) error {
	var b strings.Builder
	m := r.Machine
	mode := "full"
	if r.Config.Quick {
		mode = "quick (scaled-down datasets, 1 run: for CI, times are not meaningful)"
	}
	fmt.Fprintf(&b, "# dirsync vs rsync, end to end\n\n")
	fmt.Fprintf(&b, "- CPU: %s, %d cores\n- Kernel: %s\n- Go: %s\n- rsync: %s\n- Date: %s\n", m.CPU, m.Cores, m.Kernel, m.GoVersion, m.Rsync, m.Date)
	fmt.Fprintf(&b, "- Mode: %s; %d run(s) per tool per scenario, tools interleaved (order alternating), %s settle before each run, medians shown; seed %d; total %s\n\n", mode, r.Config.Runs, r.Config.Settle, r.Config.Seed, time.Duration(r.Duration*float64(time.Second)).Round(time.Second).String())
	if len(r.Failures) > 0 {
		fmt.Fprintf(&b, "## FAILURES\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- **%s**\n", f)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Scenarios\n\n")
	b.WriteString("| Scenario | Tool | Wall (median) | dirsync/rsync | Wire bytes (median) | dirsync/rsync | Client peak RSS | Server peak RSS | Verified |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Scenarios {
		for _, row := range []struct {
			tool  string
			t     toolResult
			wr, b string
		}{
			{"dirsync", s.Dirsync, fmtRatio(s.WallRatio), fmtRatio(s.WireRatio)},
			{"rsync", s.Rsync, "", ""},
		} {
			verified := fmt.Sprintf("%d/%d ok", len(row.t.Runs)-row.t.FailedRuns, len(row.t.Runs))
			if row.t.FailedRuns > 0 {
				verified = "**FAILED** " + verified
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				s.Name, row.tool, fmtSeconds(row.t.WallSec), row.wr, humanBytesF(row.t.Wire), row.b,
				humanBytesF(row.t.ClientRSSKiB*1024), humanBytesF(row.t.ServerRSSKiB*1024), verified)
		}
	}
	b.WriteString("\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "- %s: %s. `%s`; `%s`.\n", s.Name, s.Desc, s.Dirsync.ToolDescription, s.Rsync.ToolDescription)
	}
	b.WriteString("\n")
	if l := r.Live; l != nil {
		b.WriteString("## W1: live latency (dirsync watch mode only)\n\n")
		b.WriteString("| Change | Samples | p50 | p90 | max | Timeouts |\n|---|---:|---:|---:|---:|---:|\n")
		for _, x := range l.Latencies {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d |\n", x.Name, len(x.Samples), fmtMillis(x.P50), fmtMillis(x.P90), fmtMillis(x.Max), x.Timeouts)
		}
		fmt.Fprintf(&b, "\nIdle for %.0f s: client used %.2f CPU s, server %.2f CPU s. Peak RSS during W1: client %s, server %s.\n\n",
			l.IdleSec, l.IdleClientCPUSec, l.IdleServerCPUSec, humanBytes(l.ClientRSSKiB*1024), humanBytes(l.ServerRSSKiB*1024))
		if l.Error != "" {
			fmt.Fprintf(&b, "**W1 error: %s**\n\n", l.Error)
		}
	}
	b.WriteString(methodNotes)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	return nil
}

// methodNotes explains how the figures were taken, so they are read right.
const methodNotes = `## How these were measured

- Both tools sync the same generated source into the same server state, copied with ` + "`cp -a`" + ` from a pristine tree before each run, followed by ` + "`sync`" + ` and a pause (-settle) in which the memory the last run freed goes back to the hypervisor, so that both tools write into page cache in the same state; on these VMs, writing 1 GiB into just-freed pages took 0.27 s and into pages handed back 2.65 s. The source files are in the page cache. Runs alternate: dirsync 1, rsync 1, then rsync 2, dirsync 2, and so on.
- Wall time is the client process from start to exit. dirsync: a fresh dirsync-server is started on the prepared tree for every run, and its startup scan is not timed: the clock starts after it logs its address. rsync: one ` + "`rsync --daemon`" + ` on 127.0.0.1 serves the whole benchmark and forks per connection, which is inside the timed run.
- Wire bytes are TCP payload bytes, both directions, counted by a proxy in the harness that both clients connect through. They do not include TCP/IP headers. rsync's own --stats totals and dirsync's Status bytes_received are in results.json as cross-checks.
- Flags: dirsync runs with its defaults in every scenario, as a user who passes no flags would (its default compression included); rsync runs without -z except in T1, where ` + "`rsync -z`" + ` negotiates its own algorithm.
- Durability differs: dirsync-server, with its defaults, fsyncs a file that replaces another before renaming it over it (S3, L2, L3), leaves a file with a new name (S1, L1, T1) to the kernel's writeback as rsync does, and writes files of 8 MiB or more with O_DIRECT, so that L1's and T1's data is on disk when it answers. rsync does not fsync unless given --fsync, and it was not: its writes are still in the page cache when it exits.
- Client peak RSS is the client's VmHWM (summed over its processes), sampled every 20 ms from /proc; ru_maxrss is in results.json but not used, because Go starts children with vfork and Linux carries the harness's own peak RSS into the child's ru_maxrss at exec. Sampling can miss growth after the last sample of a short run. dirsync's server peak RSS is VmHWM of the server process, read just before it stops. rsync's server peak RSS is the sum of the VmHWM of the daemon's per-connection processes (generator and receiver), sampled every 50 ms from /proc, so it can miss growth after the last sample. The daemon's listening parent is not counted. The same /proc sampling also runs during dirsync runs. It finds a tree's processes through the children files of their threads, a few small reads per sample: scanning every process's stat file instead took 30% of the CPU during dirsync's runs, which keep both cores busy, and little of rsync's, which leave one idle.
- Verification compares the server's tree with the source after every run: the same paths and types, permission bits, mtimes to the nanosecond (not for symlinks), symlink targets, and contents byte for byte. Ownership is not compared, nor the root directory's own mode and mtime: dirsync's manifest has no entry for the root, so it leaves the root's mtime at the time of its last write, where rsync copies the source root's.
- W1 times a change from just before it is written until a 1 ms poll sees the new content at the end of the server's file. The client runs with its default flags (zstd), without a proxy.
- W1's busy-writer rows: while a log is appended every 3 ms, a small file is rewritten every 100 ms and timed as above; the log's server copy is sampled every 5 ms, its lag being the time since the first line it lacks was written (0 when it has every line). A sample that is not a whole-line prefix of the log fails W1.
`

func fmtSeconds(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f s", s)
}

func fmtMillis(ms float64) string {
	if math.IsNaN(ms) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x)
}
