package main

import "time"

// config sizes the datasets and the repetitions of one benchmark run. The
// full and quick variants come from fullConfig and quickConfig.
type config struct {
	// Quick marks the CI variant: smaller datasets, one run each.
	Quick bool `json:"quick"`
	// Seed drives every generated name, size, byte and edit.
	Seed uint64 `json:"seed"`
	// Runs is how many times each tool runs each scenario; the median is
	// reported.
	Runs int `json:"runs"`

	// SmallFiles and SmallDirs size the small tree. Its directories nest up
	// to SmallMaxDepth levels below the root.
	SmallFiles    int `json:"small_files"`
	SmallDirs     int `json:"small_dirs"`
	SmallMaxDepth int `json:"small_max_depth"`
	// SmallMinSize and SmallMaxSize bound the log-uniform file sizes.
	SmallMinSize int64 `json:"small_min_size"`
	SmallMaxSize int64 `json:"small_max_size"`

	// LargeBytes is the size of the incompressible file, TextBytes the size
	// of the compressible one.
	LargeBytes int64 `json:"large_bytes"`
	TextBytes  int64 `json:"text_bytes"`
	// Overwrites of OverwriteLen bytes make the L2 source; Inserts of
	// InsertLen bytes make the L3 source.
	Overwrites   int `json:"overwrites"`
	OverwriteLen int `json:"overwrite_len"`
	Inserts      int `json:"inserts"`
	InsertLen    int `json:"insert_len"`

	// LatencyRepeats small edits are timed in W1, LatencyGap apart.
	LatencyRepeats int           `json:"latency_repeats"`
	LatencyGap     time.Duration `json:"latency_gap_ns"`
	// BigRewriteBytes is the size of the file rewritten BigRepeats times.
	BigRewriteBytes int64 `json:"big_rewrite_bytes"`
	BigRepeats      int   `json:"big_repeats"`
	// IdleWindow is how long CPU use is measured with nothing to sync.
	IdleWindow time.Duration `json:"idle_window_ns"`
	// Settle is the pause between preparing the server's state and a
	// timed run, so that every run of either tool writes into page cache
	// in the same state; see [bench.prepare].
	Settle time.Duration `json:"settle_ns"`
}

// fullConfig is the configuration of `make bench-e2e`.
func fullConfig() config {
	return config{
		Seed:            1,
		Runs:            3,
		SmallFiles:      20000,
		SmallDirs:       1000,
		SmallMaxDepth:   5,
		SmallMinSize:    100,
		SmallMaxSize:    64 << 10,
		LargeBytes:      1 << 30,
		TextBytes:       256 << 20,
		Overwrites:      100,
		OverwriteLen:    100,
		Inserts:         50,
		InsertLen:       10,
		LatencyRepeats:  50,
		LatencyGap:      time.Second,
		BigRewriteBytes: 10 << 20,
		BigRepeats:      10,
		IdleWindow:      30 * time.Second,
		Settle:          6 * time.Second,
	}
}

// quickConfig is the configuration of `make bench-e2e-quick`: the same
// scenarios on datasets small enough for CI.
func quickConfig() config {
	c := fullConfig()
	c.Quick = true
	c.Runs = 1
	c.SmallFiles = 2000
	c.SmallDirs = 100
	c.LargeBytes = 64 << 20
	c.TextBytes = 32 << 20
	c.LatencyRepeats = 10
	c.LatencyGap = 200 * time.Millisecond
	c.BigRepeats = 3
	c.IdleWindow = 5 * time.Second
	c.Settle = 0
	return c
}
