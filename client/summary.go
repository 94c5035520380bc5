package client

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// Summary reports what one sync pass did.
type Summary struct {
	// Full is true for a pass over the whole tree, false for an
	// incremental pass over the paths that changed.
	Full bool
	// DryRun is true when the pass only planned; Plan then holds the plan
	// and the counts below are zero.
	DryRun bool
	// Plan is the plan of a dry run; it is empty otherwise.
	Plan engine.Plan
	// Files and TotalBytes count the regular files of the local tree (of
	// the part the pass scanned) and their size.
	Files      int
	TotalBytes int64
	// Sent counts files uploaded, Deduplicated files the server made from
	// content it already held, Unchanged files whose content the server
	// already had at their path.
	Sent, Deduplicated, Unchanged int
	// Deleted counts remote entries removed (with their subtrees),
	// Directories those created, Symlinks those created or replaced,
	// Specials the named pipes and devices made, Metadata the entries whose mode and
	// mtime were set (the root directory included).
	Deleted, Directories, Symlinks, Specials, Metadata int
	// HardLinks counts files made hard links to another file on the
	// server, as they are locally, instead of receiving their content.
	HardLinks int
	// Failed counts the items that failed; FailedPaths names them. They
	// are retried on the next pass.
	Failed      int
	FailedPaths []string
	// Omitted lists, in path order, the items the pass did not mirror:
	// those that failed (as FailedPaths) and those it skipped because
	// they cannot be mirrored (see [Omission]). Ignored paths are not
	// omissions: leaving them out is what was asked.
	Omitted []Omission
	// Hold, when not nil, describes the deletions the pass held back
	// because they would have emptied the server's tree or gone past
	// Options.MaxDelete: the server still holds those entries.
	Hold *DeleteHold
	// LiteralBytes crossed the network as file content; MatchedBytes were
	// rebuilt by the server from blocks of its old copies; DedupBytes were
	// copied from content it already held.
	LiteralBytes, MatchedBytes, DedupBytes int64
	// ResumedBytes were not sent again because the server had kept them
	// from an upload that broke off.
	ResumedBytes int64
	// WireBytes counts the bytes read and written on the TCP connections
	// to the server during the pass, compression and framing included.
	WireBytes int64
	// SetidDropped counts the local entries (of the part the pass
	// scanned) with setuid, setgid or sticky bits, when the server does
	// not keep those bits: it holds them without, and the pass counts
	// that as a mirror.
	SetidDropped int
	// Duration is how long the pass took.
	Duration time.Duration
}

// Changed reports whether the pass changed anything on the server. A full
// pass that changed nothing and had no failures found the server's tree
// already a mirror of the local one when it listed it.
func (s Summary) Changed() bool {
	return s.Sent+s.Deduplicated+s.Deleted+s.Directories+s.Symlinks+s.Specials+s.HardLinks+s.Metadata > 0
}

// Speedup returns rsync's figure of merit: the size of the local files the
// pass covered divided by the bytes on the wire; 0 when nothing crossed the
// wire.
func (s Summary) Speedup() float64 {
	if s.WireBytes == 0 {
		return 0
	}
	return float64(s.TotalBytes) / float64(s.WireBytes)
}

// String describes the pass on one line.
func (s Summary) String() string {
	if s.DryRun {
		return "dry run: " + s.Plan.String()
	}
	resumed := ""
	if s.ResumedBytes > 0 {
		resumed = ", " + formatBytes(s.ResumedBytes) + " resumed"
	}
	held := ""
	if s.Hold != nil {
		held = fmt.Sprintf(" (held back %d)", s.Hold.Entries)
	}
	setid := ""
	if s.SetidDropped > 0 {
		setid = fmt.Sprintf("; the server dropped set-id bits of %d entries", s.SetidDropped)
	}
	links := ""
	if s.HardLinks > 0 {
		links = fmt.Sprintf(", hard-linked %d", s.HardLinks)
	}
	return fmt.Sprintf("sent %d files (%s literal, %s matched%s), deduplicated %d (%s)%s, deleted %d%s, unchanged %d, failed %d, skipped %d; "+
		"%s on the wire for %s in %d files, speedup %.2f, %s%s",
		s.Sent, formatBytes(s.LiteralBytes), formatBytes(s.MatchedBytes), resumed, s.Deduplicated, formatBytes(s.DedupBytes),
		links, s.Deleted, held, s.Unchanged, s.Failed, s.Skipped(), formatBytes(s.WireBytes), formatBytes(s.TotalBytes), s.Files,
		s.Speedup(), s.Duration.Round(time.Millisecond), setid)
}

// logAttrs returns the summary as log attributes.
func (s Summary) logAttrs() []any {
	return []any{
		slog.Bool("full", s.Full),
		slog.Int("sent", s.Sent),
		slog.Int("deduplicated", s.Deduplicated),
		slog.Int("deleted", s.Deleted),
		slog.Int("unchanged", s.Unchanged),
		slog.Int("directories", s.Directories),
		slog.Int("symlinks", s.Symlinks),
		slog.Int("hard_links", s.HardLinks),
		slog.Int("specials", s.Specials),
		slog.Int("metadata", s.Metadata),
		slog.Int("failed", s.Failed),
		slog.Int("skipped", s.Skipped()),
		slog.Int64("literal_bytes", s.LiteralBytes),
		slog.Int64("matched_bytes", s.MatchedBytes),
		slog.Int64("dedup_bytes", s.DedupBytes),
		slog.Int64("resumed_bytes", s.ResumedBytes),
		slog.Int64("wire_bytes", s.WireBytes),
		slog.Int64("total_bytes", s.TotalBytes),
		slog.String("speedup", fmt.Sprintf("%.2f", s.Speedup())),
		slog.Int("setid_dropped", s.SetidDropped),
		slog.Duration("duration", s.Duration),
	}
}

// formatBytes renders n bytes with a binary unit, e.g. "1.5 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
