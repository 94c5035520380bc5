package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dirsync/dirsync/client"
)

// pendingShown is how many pending paths -wait-for-sync names when it
// times out.
const pendingShown = 20

// waitHelp is the part of the usage text on -wait-for-sync.
const waitHelp = `Waiting for a sync (-wait-for-sync):
  A barrier for scripts: it exits 0 once the server holds the directory as
  it was when the command started, e.g.
    cp build/* project/ && dirsync-client -dir project -wait-for-sync -timeout 1m
  It uploads nothing: it waits for the watching client that runs beside it
  (another dirsync-client on the same directory) to send what changed, so
  that the two never race each other. It compares the tree it scanned at
  the start with the server's listing, again after every change the
  server reports and at least every second. A path edited again after
  the start counts as synced when the server holds the newer version.
  "Held" means what the server answered for: renamed into place, and
  synced to disk as the server's -sync-new-files says. It exits 1 after
  -timeout (5m by default; 0 waits for ever) naming what is still
  pending, 3 if the server cannot be reached by then, 4 if it refuses the
  credentials. Without a watching client, run -once instead.

`

// waitCmd waits until the server holds the tree as it is now.
func waitCmd(ctx context.Context, c *client.Client, log *slog.Logger, stdout io.Writer, timeout time.Duration) int {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	pending, err := c.WaitForSync(ctx)
	switch {
	case err == nil:
		log.Info("synced: the server holds the directory as it was at the start", "waited", time.Since(start).Round(time.Millisecond))
		return exitOK
	case errors.Is(err, context.DeadlineExceeded) && pending != nil:
		fmt.Fprintf(stdout, "not synced after %v: %d paths pending\n", timeout, len(pending))
		for i, p := range pending {
			if i == pendingShown {
				fmt.Fprintf(stdout, "  ... and %d more\n", len(pending)-pendingShown)
				break
			}
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		log.Error("timed out waiting for the sync; is a watching dirsync-client running on this directory?", "pending", len(pending))
		return exitNotMirrored
	case errors.Is(err, context.DeadlineExceeded) && errors.Is(err, client.ErrUnavailable):
		return failed(log, "timed out waiting for the server", err)
	}
	return failed(log, "wait for sync failed", err)
}

// checkModes checks that -wait-for-sync comes without -once and
// -dry-run (-once -dry-run is a dry run), and -timeout only with it.
func checkModes(fset *flag.FlagSet, wait, once, dryRun bool) error {
	if wait && (once || dryRun) {
		return errors.New("-wait-for-sync excludes -once and -dry-run: it syncs nothing")
	}
	timeoutSet := false
	fset.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	if timeoutSet && !wait {
		return errors.New("-timeout goes with -wait-for-sync")
	}
	return nil
}
