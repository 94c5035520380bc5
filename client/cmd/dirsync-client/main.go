// Command dirsync-client keeps a directory on a dirsync server an exact
// mirror of a local directory. Run it with -help for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/dirsync/dirsync/client"
	"github.com/dirsync/dirsync/engine"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK          = 0
	exitNotMirrored = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitAuth        = 4
	exitHeld        = 5
)

// defaultDir is the directory mirrored when neither -dir nor DIRSYNC_DIR
// names one.
const defaultDir = "./dirsync_from"

const usageText = `Usage: dirsync-client [flags]

dirsync-client keeps a directory on a dirsync server an exact mirror of a
local directory: files, directories, symlinks and named pipes, with their
permissions and modification times (symlinks' own, and the directory's
itself), under every name Linux allows (backslashes and bytes that are not
UTF-8 included), as rsync -a does; hard links (as rsync -H: a set's content
goes once, and the server links its files as they are linked here) and
holes of sparse files (as rsync -S: they stay holes, and do not cross the
wire). Devices are mirrored where the server allows them (as root, with
--allow-devices) and reported as not mirrored elsewhere; sockets are
reported and skipped. It sends only what changed: content the server
already holds is copied there, changed files travel as rsync-like deltas,
and the rest is compressed on the wire. By default it syncs once, then
watches the directory and syncs every change within milliseconds,
reconnecting if the server goes away. It keeps the server's copy right
too: a file changed, removed or added there behind the server's back is
put back within a second (the server reports such drift), a server
restarted on an emptied directory is filled again, and every
-verify-interval a full pass checks the whole mirror. With -once it syncs,
checks the result and exits.

Examples:
  # on the server machine
  dirsync-server -root /srv/mirror -listen :8080
  # on the client machine: mirror ./project there and keep it mirrored
  dirsync-client -dir ./project -server http://server:8080
  # sync once and check the mirror, e.g. from cron or CI
  dirsync-client -dir ./project -server http://server:8080 -once
  # show what a sync would change, without changing anything
  dirsync-client -dir ./project -dry-run
  # a server with tenants, over TLS with a private CA
  dirsync-client -dir ./project -server https://server:8443 -ca ca.crt \
      -token-file ~/.config/dirsync/web.token

Authentication and TLS:
  A server run with a tenants file wants a bearer token on every call:
  -token-file FILE (the file holds the token) or DIRSYNC_TOKEN. -token
  works too but is discouraged: other users can read it with ps. The
  token is never logged. Over http:// it travels in clear: use it with
  http:// on loopback only, and https:// everywhere else.
  An https:// server URL speaks HTTP/2 over TLS. -ca trusts a private CA
  instead of the system's; -cert and -key present a client certificate
  (mutual TLS), which can also name the tenant instead of a token.
  A refused token or certificate is not retried: the client exits 4, in
  watch mode too.

Ignoring files:
  A .dirsyncignore file at the root of the directory holds patterns in
  gitignore syntax (*.o, build/, !keep.log, /only-at-root); -exclude adds
  more. Ignored paths are neither sent, watched nor deleted: what the
  server holds under them is left alone, as rsync does with excluded
  files. The file is re-read when it changes.

Exit codes:
  0  the server holds a mirror of every item (-once), the plan was
     printed (-dry-run), or watch mode was stopped by SIGINT/SIGTERM
  1  the server does not hold a mirror (-once): some items failed, or
     were skipped as items that cannot be mirrored (sockets; devices
     fail unless the server runs as root with --allow-devices); -once
     names them. Or another error: the directory vanished, the server failed
     (ignored paths are left out on purpose and do not count)
  2  usage error: bad flag or environment value, a -dir that does not
     exist or is not a directory, or a -dir inside the server's root
     (on the same machine), which would mirror it into itself
  3  the server could not be reached, after retries
  4  authentication failed: the token or client certificate was missing
     or refused, the tenant is read-only, or the server's TLS certificate
     could not be verified
  5  the pass held back its deletions (-once): they would have emptied
     the server's tree or gone past -max-delete; it deleted nothing and
     sent the rest

Safety:
  The client never creates the directory to mirror: a missing one is a
  usage error, never an empty tree. A pass that would delete everything
  the server holds because the directory is empty, or more entries than
  -max-delete allows (by default more than half of what the server
  holds, once that is more than %d entries), sends none of its
  deletions: it says what it would have deleted and how to allow it
  (-allow-empty, -max-delete N, -max-delete -1 for no limit; emptying
  the tree needs -allow-empty whatever -max-delete says). Its other
  changes still go. Watch mode holds them the same way, counting the
  deletions of the last minute together (a tree removed a directory at a
  time is held too), says so once and keeps watching: they go once they fall within the limits, and the
  hold ends when the directory is back. A renamed or moved directory
  loses nothing, so the default rule lets it through.
  On the same machine as the server, a -dir inside the server's root (or
  the root itself) is refused with exit code 2: the server would mirror
  it into itself. A server root inside -dir is left out, as if excluded,
  with a warning.

Environment (a flag beats its variable):
  DIRSYNC_DIR, DIRSYNC_SERVER, DIRSYNC_BLOCK_SIZE, DIRSYNC_COMPRESS,
  DIRSYNC_CONCURRENCY, DIRSYNC_LOG_LEVEL, DIRSYNC_LOG_FORMAT,
  DIRSYNC_METRICS_LISTEN, DIRSYNC_TOKEN,
  DIRSYNC_TOKEN_FILE, DIRSYNC_CA, DIRSYNC_CERT, DIRSYNC_KEY

`

// stringList is a repeatable string flag.
type stringList []string

// String returns the values joined by commas.
func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set appends a value.
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// defaultGCPercent is the client's GOGC unless the environment sets one:
// the heap may grow to 1.5 times the live data between collections
// instead of twice. In an initial sync of 20,000 files with zstd the
// client peaked at 75 MiB instead of 97, with no more CPU time (a run
// each, /usr/bin/time).
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its streams, returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dirsync-client", flag.ContinueOnError)
	fset.SetOutput(stderr)
	// Help asked for goes to stdout, whole; a bad flag gets the flag
	// package's one line on stderr and a hint, not 100 lines of help.
	fset.Usage = func() {}
	blockSize, err := envInt("DIRSYNC_BLOCK_SIZE", 0)
	if err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}
	concurrency, err := envInt("DIRSYNC_CONCURRENCY", client.DefaultConcurrency)
	if err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}
	var (
		dir      = fset.String("dir", envString("DIRSYNC_DIR", defaultDir), "local `directory` to mirror; it must exist (the client never creates it)")
		server   = fset.String("server", envString("DIRSYNC_SERVER", client.DefaultServerURL), "server base `URL`: http:// for cleartext HTTP/2, https:// for TLS")
		once     = fset.Bool("once", false, "sync once, verify the mirror and exit (see exit codes)")
		dryRun   = fset.Bool("dry-run", false, "print what a sync would change, change nothing, exit")
		waitSync = fset.Bool("wait-for-sync", false, "wait until the server holds the directory as it is now, upload nothing, exit (see Waiting for a sync)")
		timeout  = fset.Duration("timeout", 5*time.Minute, "with -wait-for-sync, how long to wait (`duration`; 0 waits for ever)")
		compress = fset.String("compress", envString("DIRSYNC_COMPRESS", client.DefaultCompression), "compression of what the client sends: none, gzip or zstd (the server's listings come in zstd whatever the choice; answers to uploads come in the uploads' codec)")
		logLevel = fset.String("log-level", envString("DIRSYNC_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error")
		logFmt   = fset.String("log-format", envString("DIRSYNC_LOG_FORMAT", "text"), "log `format`: text (key=value) or json, one object a line; every record has component=client")
		metrics  = fset.String("metrics-listen", envString("DIRSYNC_METRICS_LISTEN", ""), "serve Prometheus metrics at /metrics on this `address` (e.g. 127.0.0.1:9109); off by default")
		showVer  = fset.Bool("version", false, "print the version and exit")
		verify   = fset.Duration("verify-interval", client.DefaultVerifyInterval, "in watch mode, run a full pass this often to verify the mirror, for changes no event reported (`duration`, e.g. 5m; 0 disables). Changes made on the server behind its back are repaired within a second anyway, as the server reports them")
		excludes stringList
		creds    credentials
		maxDel   maxDelete
	)
	allowEmpty := fset.Bool("allow-empty", false,
		"let a pass delete everything on the server when the directory is empty (refused otherwise: an empty directory is more often a mistake)")
	fset.Var(&maxDel, "max-delete",
		fmt.Sprintf("most `entries` one pass may delete on the server, a directory counting its whole subtree: a number, 0 to delete nothing, -1 for no limit, or auto (the default): at most half of what the server holds, or %d entries if that is more, not counting moved files", client.AutoDeleteFloor))
	creds.register(fset)
	fset.IntVar(&blockSize, "block-size", blockSize,
		fmt.Sprintf("delta block size in `bytes`, %d to %d; 0 lets the server adapt it to each file", engine.MinBlockSize, engine.MaxBlockSize))
	fset.IntVar(&concurrency, "concurrency", concurrency, fmt.Sprintf("parallel upload streams, 1 to %d", client.MaxConcurrency))
	fset.Var(&excludes, "exclude", "ignore paths matching this gitignore `pattern` (repeatable)")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usageText, client.AutoDeleteFloor)
			fmt.Fprint(stdout, waitHelp)
			fmt.Fprintln(stdout, "Flags:")
			fset.SetOutput(stdout)
			fset.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, "dirsync-client: see dirsync-client --help for the flags")
		return exitUsage
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "dirsync-client: unexpected argument %q; see -help\n", fset.Arg(0))
		return exitUsage
	}
	if err := checkModes(fset, *waitSync, *once, *dryRun); err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}
	if *showVer {
		fmt.Fprintln(stdout, "dirsync-client", version)
		return exitOK
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "dirsync-client: log level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	if *logFmt != "text" && *logFmt != "json" {
		fmt.Fprintf(stderr, "dirsync-client: log format %q: want text or json\n", *logFmt)
		return exitUsage
	}
	log := newLogger(*logFmt, level, stderr)
	token, err := creds.token()
	if err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}
	tlsConfig, err := creds.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}

	given := *dir
	if !dirSet(fset) {
		given += " (the default)"
	}
	if err := checkDir(*dir, given); err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		return exitUsage
	}
	var m *client.Metrics
	if *metrics != "" {
		m = client.NewMetrics()
		hs, err := serveMetrics(*metrics, m, log)
		if err != nil {
			fmt.Fprintln(stderr, "dirsync-client:", err)
			return exitUsage
		}
		defer hs.Close()
	}
	var progress io.Writer
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = stderr
	}
	c, err := client.New(client.Options{
		Dir:            *dir,
		ServerURL:      *server,
		Token:          token,
		TLSConfig:      tlsConfig,
		BlockSize:      blockSize,
		Compression:    *compress,
		Concurrency:    concurrency,
		Excludes:       excludes,
		MaxDelete:      int(maxDel),
		AllowEmpty:     *allowEmpty,
		DryRun:         *dryRun,
		Logger:         log,
		Progress:       progress,
		VerifyInterval: verifyInterval(*verify),
		Metrics:        m,
	})
	if err != nil {
		fmt.Fprintln(stderr, "dirsync-client:", err)
		if errors.Is(err, client.ErrInvalidOptions) {
			return exitUsage
		}
		return exitNotMirrored
	}
	defer c.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case *waitSync:
		return waitCmd(ctx, c, log, stdout, *timeout)
	case *dryRun:
		return dryRunCmd(ctx, c, log, stdout)
	case *once:
		return onceCmd(ctx, c, log, stdout)
	}
	log.Info("watching", "dir", *dir, "server", *server, "version", version)
	if err := c.Watch(ctx); err != nil {
		if errors.Is(err, client.ErrAuth) {
			log.Error("the server refused the credentials; stopping (retrying would not help)", "err", err)
			return exitAuth
		}
		if errors.Is(err, client.ErrOverlap) {
			log.Error("stopping", "err", err)
			return exitUsage
		}
		log.Error("watch failed", "err", err)
		return exitNotMirrored
	}
	log.Info("stopped")
	return exitOK
}

// dryRunCmd prints the plan of a sync.
func dryRunCmd(ctx context.Context, c *client.Client, log *slog.Logger, stdout io.Writer) int {
	sum, err := c.SyncOnce(ctx)
	if err != nil {
		return failed(log, "dry run failed", err)
	}
	if err := client.WritePlan(stdout, sum.Plan); err != nil {
		log.Error("cannot print the plan", "err", err)
		return exitNotMirrored
	}
	fmt.Fprintln(stdout, sum.String())
	if sum.Hold != nil {
		fmt.Fprintln(stdout, "a sync would hold back its deletions:", sum.Hold.Error())
	}
	return exitOK
}

// onceCmd syncs once and verifies the mirror.
func onceCmd(ctx context.Context, c *client.Client, log *slog.Logger, stdout io.Writer) int {
	sum, check, err := c.SyncOnceWithCheck(ctx)
	if err != nil {
		return failed(log, "sync failed", err)
	}
	fmt.Fprintln(stdout, sum.String())
	printOmitted(log, stdout, sum.Omitted)
	if sum.Hold != nil {
		// The pass has logged what it held back and how to allow it.
		return exitHeld
	}
	plan := engine.Plan{}
	if !sum.Full || sum.Changed() || sum.Failed > 0 {
		// Otherwise the listing the pass compared with was the check.
		if plan, err = check(ctx); err != nil {
			return failed(log, "verify failed", err)
		}
	}
	if plan.Empty() && sum.Failed == 0 && len(sum.Omitted) > 0 {
		log.Error("the server holds a mirror of everything but the items that cannot be mirrored", "skipped", sum.Skipped())
		return exitNotMirrored
	}
	if !plan.Empty() || len(sum.Omitted) > 0 {
		log.Error("the server does not hold a mirror", "failed", sum.Failed, "skipped", sum.Skipped(), "remaining", plan.String())
		return exitNotMirrored
	}
	if !sum.Changed() {
		log.Info("verified: the server holds a mirror; nothing needed changing")
	} else {
		log.Info("verified: the server holds a mirror")
	}
	return exitOK
}

// omissionsShown is how many of the items a pass left out -once names.
const omissionsShown = 20

// printOmitted names the first items a pass left out, if any.
func printOmitted(log *slog.Logger, stdout io.Writer, omitted []client.Omission) {
	if len(omitted) == 0 {
		return
	}
	fmt.Fprintf(stdout, "not mirrored: %d items\n", len(omitted))
	if err := client.WriteOmissions(stdout, omitted, omissionsShown); err != nil {
		log.Error("cannot print the items left out", "err", err)
	}
}

// failed logs err and returns its exit code.
func failed(log *slog.Logger, msg string, err error) int {
	log.Error(msg, "err", err)
	if errors.Is(err, client.ErrAuth) {
		return exitAuth
	}
	if errors.Is(err, client.ErrUnavailable) {
		return exitUnreachable
	}
	if errors.Is(err, client.ErrOverlap) {
		return exitUsage
	}
	return exitNotMirrored
}

// envString returns the value of the environment variable key, or def.
func envString(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// envInt returns the integer value of the environment variable key, or def.
func envInt(key string, def int) (int, error) {
	v, ok := os.LookupEnv(key)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not an integer", key, v)
	}
	return n, nil
}

// verifyInterval converts the -verify-interval flag, where 0 disables the
// verification passes, to [client.Options.VerifyInterval], where a
// negative value does.
func verifyInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
