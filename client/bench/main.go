package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

// run is main with an exit status: 0 when every run verified, 1 when any
// failed or the harness could not finish, 2 for bad flags.
func run() int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	out := fs.String("out", "bench-out", "directory for results.md, results.json, ratios.svg and ratios.png")
	work := fs.String("work", "", "work directory for datasets and trees (default: a new temp dir under /tmp, deleted at the end)")
	quick := fs.Bool("quick", false, "scaled-down datasets and one run each, for CI")
	runs := fs.Int("runs", 0, "runs per tool per scenario (default 3, or 1 with -quick)")
	seed := fs.Uint64("seed", 1, "seed for every generated dataset and edit")
	only := fs.String("only", "", "comma-separated scenarios to run, e.g. S1,L2,W1 (default all); W1 alone needs no rsync and skips the large datasets")
	keep := fs.Bool("keep", false, "keep the work directory")
	settle := fs.Duration("settle", -1, "pause before each timed run, so freed page cache is handed back to the host alike for both tools (default 6s, or 0 with -quick); see bench.prepare")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./client/bench [flags]\n\nBenchmarks dirsync against rsync end to end; see doc.go.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	cfg.Seed = *seed
	if *runs > 0 {
		cfg.Runs = *runs
	}
	if *settle >= 0 {
		cfg.Settle = *settle
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var filter []string
	if *only != "" {
		filter = strings.Split(*only, ",")
	}
	rep, err := benchmark(ctx, cfg, *out, *work, *keep, filter, log)
	if err != nil {
		log.Error("benchmark failed", "error", err)
		return 1
	}
	if len(rep.Failures) > 0 {
		for _, f := range rep.Failures {
			log.Error("FAILED", "what", f)
		}
		return 1
	}
	return 0
}

// benchmark generates the datasets, runs every selected scenario and W1,
// and writes the results into out.
func benchmark(ctx context.Context, cfg config, out, work string, keep bool, only []string, log *slog.Logger) (*report, error) {
	start := time.Now()
	// W1 alone needs neither rsync nor the large datasets.
	withRsync := len(only) == 0 || slices.ContainsFunc(only, func(s string) bool { return s != "W1" })
	withLarge := len(only) == 0 || slices.ContainsFunc(only, func(s string) bool { return strings.HasPrefix(s, "L") || strings.HasPrefix(s, "T") })
	rsyncVer := "not used"
	if withRsync {
		if _, err := exec.LookPath("rsync"); err != nil {
			return nil, errors.New("rsync not found on PATH: run `make bench-deps`")
		}
		v, err := rsyncVersion()
		if err != nil {
			return nil, err
		}
		rsyncVer = v
	}
	var err error
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("create output dir: %w", err)
	}
	if work == "" {
		if work, err = os.MkdirTemp("/tmp", "dirsync-bench-"); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
	} else {
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
		if work, err = os.MkdirTemp(work, "run-"); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
	}
	if work, err = filepath.Abs(work); err != nil {
		return nil, fmt.Errorf("absolute work dir: %w", err)
	}
	log.Info("work dir", "path", work, "quick", cfg.Quick, "runs", cfg.Runs)
	defer func() {
		if keep {
			log.Info("keeping work dir", "path", work)
			return
		}
		t := time.Now()
		if err := os.RemoveAll(work); err != nil {
			log.Error("remove work dir", "path", work, "error", err)
			return
		}
		log.Info("work dir removed", "elapsed", time.Since(t).Round(time.Millisecond))
	}()

	b := &bench{cfg: cfg, log: log, work: work, dest: filepath.Join(work, "dest"), trash: &trash{dir: filepath.Join(work, "trash")}}
	if err := b.build(ctx); err != nil {
		return nil, err
	}
	data, err := generateDatasets(ctx, filepath.Join(work, "data"), cfg, withLarge, log)
	if err != nil {
		return nil, fmt.Errorf("generate datasets: %w", err)
	}
	if withRsync {
		b.daemon, err = startRsyncDaemon(ctx, work, b.dest)
		if err != nil {
			return nil, err
		}
		defer b.daemon.Stop()
	}

	rep := &report{Machine: describeMachine(rsyncVer), Config: cfg}
	for _, sc := range scenarios(data, cfg) {
		if len(only) > 0 && !slices.Contains(only, sc.Name) {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Info("scenario", "name", sc.Name, "description", sc.Desc)
		rep.Scenarios = append(rep.Scenarios, b.runScenario(ctx, sc))
	}
	if len(only) == 0 || slices.Contains(only, "W1") {
		live := b.runLive(ctx, data.SmallV0)
		rep.Live = &live
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.Duration = time.Since(start).Seconds()
	rep.collectFailures()
	if err := rep.writeJSON(out); err != nil {
		return nil, err
	}
	if err := rep.writeMarkdown(out); err != nil {
		return nil, err
	}
	if len(rep.Scenarios) > 0 {
		if err := writeChart(out, rep.Scenarios); err != nil {
			return nil, err
		}
	}
	log.Info("results written", "dir", out, "elapsed", time.Since(start).Round(time.Second))
	return rep, nil
}

// build compiles dirsync-server and dirsync-client from the module the
// harness runs in into the work dir.
func (b *bench) build(ctx context.Context) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(b.work, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./server/cmd/dirsync-server", "./client/cmd/dirsync-client")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build dirsync binaries: %w: %s", err, tail(string(out), 10))
	}
	b.serverBin, b.clientBin = filepath.Join(bin, "dirsync-server"), filepath.Join(bin, "dirsync-client")
	return nil
}
