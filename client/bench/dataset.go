package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// datasets are the generated source trees, each a directory the clients
// sync from. They are read-only once generated.
type datasets struct {
	SmallV0  string // the small tree
	SmallV1  string // the small tree after the S3 edits
	LargeV0  string // holds big.bin, incompressible
	LargeOW  string // big.bin after random overwrites
	LargeIns string // big.bin after random insertions
	Text     string // holds text.txt, compressible

	Edits smallEdits
}

// bigName and textName are the file names inside the large datasets; the
// same name in every version lets both tools send deltas against it.
const (
	bigName  = "big.bin"
	textName = "text.txt"
)

// generateDatasets writes every dataset of cfg under dir, the large ones
// only if large is set. It stops early, with ctx's error, once ctx is done
// (an interrupt).
func generateDatasets(ctx context.Context, dir string, cfg config, large bool, log *slog.Logger) (datasets, error) {
	d := datasets{
		SmallV0:  filepath.Join(dir, "small-v0"),
		SmallV1:  filepath.Join(dir, "small-v1"),
		LargeV0:  filepath.Join(dir, "large-v0"),
		LargeOW:  filepath.Join(dir, "large-overwritten"),
		LargeIns: filepath.Join(dir, "large-inserted"),
		Text:     filepath.Join(dir, "text"),
	}
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, fmt.Errorf("create dataset dir: %w", err)
	}
	tree := planSmall(cfg.SmallFiles, cfg.SmallDirs, cfg.SmallMaxDepth, cfg.SmallMinSize, cfg.SmallMaxSize, cfg.Seed)
	if err := writeSmall(ctx, d.SmallV0, tree); err != nil {
		return d, err
	}
	d.Edits = planSmallEdits(tree, cfg.SmallMinSize, cfg.SmallMaxSize, cfg.Seed+1)
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if err := copyTree(d.SmallV0, d.SmallV1); err != nil {
		return d, err
	}
	if err := applySmallEdits(d.SmallV1, d.Edits); err != nil {
		return d, err
	}
	log.Info("small datasets ready", "files", len(tree.Files), "dirs", len(tree.Dirs), "edits", d.Edits.String(), "elapsed", time.Since(start).Round(time.Millisecond))

	if !large {
		return d, nil
	}
	start = time.Now()
	if err := ctx.Err(); err != nil {
		return d, err
	}
	for _, p := range []string{d.LargeV0, d.LargeOW, d.LargeIns, d.Text} {
		if err := os.Mkdir(p, 0o755); err != nil {
			return d, fmt.Errorf("create dataset dir: %w", err)
		}
	}
	v0 := filepath.Join(d.LargeV0, bigName)
	if err := writeRandomFile(v0, cfg.LargeBytes, cfg.Seed); err != nil {
		return d, err
	}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if err := overwriteRandom(v0, filepath.Join(d.LargeOW, bigName), cfg.Overwrites, cfg.OverwriteLen, cfg.Seed+2); err != nil {
		return d, err
	}
	if err := insertRandom(v0, filepath.Join(d.LargeIns, bigName), cfg.Inserts, cfg.InsertLen, cfg.Seed+3); err != nil {
		return d, err
	}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if err := writeTextFile(filepath.Join(d.Text, textName), cfg.TextBytes, cfg.Seed+4); err != nil {
		return d, err
	}
	// Fixed modes and times: the originals date from baseTime, the edited
	// versions from editTime, and every directory from baseTime.
	stamps := []struct {
		path string
		t    time.Time
	}{
		{v0, baseTime},
		{filepath.Join(d.LargeOW, bigName), editTime},
		{filepath.Join(d.LargeIns, bigName), editTime},
		{filepath.Join(d.Text, textName), baseTime},
		{d.LargeV0, baseTime}, {d.LargeOW, baseTime}, {d.LargeIns, baseTime}, {d.Text, baseTime},
	}
	for _, s := range stamps {
		if err := os.Chtimes(s.path, s.t, s.t); err != nil {
			return d, fmt.Errorf("set dataset mtime: %w", err)
		}
	}
	log.Info("large datasets ready", "large_bytes", cfg.LargeBytes, "text_bytes", cfg.TextBytes, "elapsed", time.Since(start).Round(time.Millisecond))
	return d, nil
}
