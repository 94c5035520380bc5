// Command dirsync-server keeps a directory an exact mirror of a directory
// on a dirsync client. It serves the dirsync.v1.SyncService over Connect,
// gRPC and gRPC-Web on cleartext HTTP/1.1 and HTTP/2 (h2c), or over TLS.
//
// With --config it serves many tenants, each a named tree with its own
// root and bearer tokens (or client certificate names); see
// [server.ConfigExample] for the file format. Without it, it serves the one
// directory --root to anyone who can connect.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dirsync/dirsync/server"
)

// version is the server's version, set at build time with
// -ldflags "-X main.version=v1.2.3"; by default it comes from the build info.
var version = ""

// Exit codes.
const (
	exitOK      = 0 // clean shutdown
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // bad flags
)

// errReported reports bad flags whose error has already been printed.
var errReported = errors.New("bad flags")

// defaultRoot is the directory served when neither --root, DIRSYNC_ROOT
// nor --config is given.
const defaultRoot = "./dirsync_to"

// memoryOverhead is what the server's soft memory limit (the Go runtime's
// GOMEMLIMIT) adds to --max-memory-bytes, for the content indexes, the
// connections and the runtime: the limit makes the garbage collector run
// before the heap doubles past the live request buffers, as it would by
// default (GOGC=100), which held 250 MiB resident under TestStrangers.
const memoryOverhead = 64 << 20

// shutdownTimeout bounds how long running RPCs get to finish on shutdown.
const shutdownTimeout = 10 * time.Second

var usage = `dirsync-server keeps a directory an exact mirror of a directory on a
dirsync client. The client drives everything: it lists the server's tree,
sends structural changes in batches, and streams file contents as rsync-like
deltas. Files are verified by SHA-256 and renamed into place atomically;
content the server already holds anywhere under its root is copied locally
instead of being sent again.

Usage:
  dirsync-server [flags]

Example:
  dirsync-server --root /srv/mirror --listen 0.0.0.0:8080      # on the server
  dirsync-client --dir ./project --server http://HOST:8080     # on the client

Without --config the server has one tree, --root, and no authentication:
run it like that on loopback or a trusted network only. With --config FILE
it serves many tenants, each a named tree with its own root and
credentials; every SyncService call then needs "authorization: Bearer
TOKEN" (or a client certificate, see --client-ca), and a tenant sees only
its own tree. --root cannot be combined with --config.

With --tls-cert and --tls-key it serves HTTP/2 over TLS instead of h2c;
use that whenever the network between client and server is not trusted,
and always with tokens off loopback:
  dirsync-server --config /etc/dirsync/tenants.toml --listen 0.0.0.0:8443 \
      --tls-cert server.crt --tls-key server.key
  dirsync-client --server https://HOST:8443 --ca ca.crt --token-file web.token

Every size a client sends is bounded before the server allocates for it:
messages (--max-message-bytes), paths (4096 bytes, 255 per name), changes
and manifest paths per request (10000), literal chunks (256 KiB), file size
(--max-file-bytes), uploads in flight (--max-temp-bytes) and concurrent
Upload streams (--max-upload-streams). A request over a limit gets
InvalidArgument or ResourceExhausted with a message naming the limit.
Credentials are checked on the headers, before any byte of a body is read.
Compressed messages (gzip, zstd) are bounded after decompression, and the
memory all requests in flight may take together is one budget
(--max-memory-bytes, 128 MiB by default, which keeps the process under
256 MiB resident): a request that does not fit waits for room, then gets
ResourceExhausted. Health checks and reflection need no credentials and
take messages of at most 64 KiB.

Modes: the setuid, setgid and sticky bits clients send are cleared, since a
server running as root would own such files; --allow-setid (per tenant:
allow_setid = true) keeps them. Clients are told, compare modes without
those bits, and report how many entries lost them.

Special files: named pipes are mirrored as named pipes. Character and block
devices are made only when the server runs as root and --allow-devices (per
tenant: allow_devices = true) is set; otherwise each is refused with
FailedPrecondition and the client reports it as not mirrored. Sockets are
never sent.

Drift: while a client watches, the server watches its root too and
streams every change to it (WatchChanges, which grpcurl can follow), each
flagged as its own or as made behind its back; watching clients put back
what was changed, removed or added there within a second. Past the inotify
limits (fs.inotify.max_user_watches) it rescans the directories it cannot
watch every 10 seconds, and says so in the log.

Durability: every file is written to a temporary file, checked against its
SHA-256 and renamed into place, so no one ever sees a half-written file. A
file that replaces another is fsynced before that rename: after a crash or
power loss its path holds the old version or the new one. A file with a new
name is renamed at once and reaches the disk with the kernel's writeback,
as rsync's and cp's files do: a power loss within about 30 seconds may leave
it missing or short, and the client's next pass sends it again.
--sync-new-files makes new files durable before they are answered, too, at
the cost of a syncfs per group of files (about a fifth of the time of an
initial sync of many small files).

Tenants file (TOML):
` + indent(server.ConfigExample) + `
The server speaks Connect, gRPC and gRPC-Web (cleartext HTTP/2 or HTTP/1.1)
and serves gRPC reflection and health checks, so grpcurl works:
  grpcurl -plaintext 127.0.0.1:8080 list
  grpcurl -plaintext 127.0.0.1:8080 dirsync.v1.SyncService/Status
  grpcurl -plaintext 127.0.0.1:8080 grpc.health.v1.Health/Check

Flags (each may also be set with the environment variable named; a flag
given on the command line wins):
`

const usageTail = `
Exit codes:
  0  clean shutdown (SIGINT or SIGTERM)
  1  runtime failure (root unusable, address in use, bad certificate, ...)
  2  bad flags, environment variables or tenants file (a --listen port
     out of range is one)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config holds the parsed command line.
type config struct {
	root             string
	tenants          *server.Config // from --config; nil in single-root mode
	listen           string
	metricsListen    string // "" when off
	logLevel         slog.Level
	logFormat        string
	maxMessageBytes  int
	maxFileBytes     int64
	maxTempBytes     int64 // 0 means unlimited
	maxUploadStreams int
	maxWatchers      int
	maxMemoryBytes   int64
	syncNewFiles     bool
	allowSetid       bool
	allowDevices     bool
	tlsCert          string
	tlsKey           string
	clientCA         string
	version          bool
}

// run runs the server with the given arguments and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errReported):
		fmt.Fprintln(stderr, "dirsync-server: see dirsync-server --help for the flags")
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "dirsync-server: %v\n", err)
		return exitUsage
	}
	if cfg.version {
		fmt.Fprintln(stdout, "dirsync-server", buildVersion())
		return exitOK
	}
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.maxMemoryBytes + memoryOverhead)
	}
	err = serve(cfg, log)
	var se *startError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		fmt.Fprintf(stderr, "dirsync-server: %v\n", se.err)
	default:
		log.Error("server failed", "error", err)
	}
	return exitFailure
}

// startError is a failure to start serving: the port, a root, the
// certificates. It is reported as one plain line, as bad flags are, not
// as a log record.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// parseFlags parses args, with defaults taken from the environment. Help
// asked for goes to stdout, whole; a bad flag gets the flag package's one
// line on stderr, not the help.
func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dirsync-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	maxBytes, err := envInt("DIRSYNC_MAX_MESSAGE_BYTES", server.DefaultMaxMessageBytes, 1)
	if err != nil {
		return cfg, err
	}
	maxFile, err := envInt("DIRSYNC_MAX_FILE_BYTES", 0, 0)
	if err != nil {
		return cfg, err
	}
	maxTemp, err := envInt("DIRSYNC_MAX_TEMP_BYTES", server.DefaultMaxTempBytes, 0)
	if err != nil {
		return cfg, err
	}
	maxStreams, err := envInt("DIRSYNC_MAX_UPLOAD_STREAMS", server.DefaultMaxUploadStreams, 1)
	if err != nil {
		return cfg, err
	}
	maxMemory, err := envInt("DIRSYNC_MAX_MEMORY_BYTES", server.DefaultMaxMemoryBytes, 1)
	if err != nil {
		return cfg, err
	}
	syncNew, err := envBool("DIRSYNC_SYNC_NEW_FILES")
	if err != nil {
		return cfg, err
	}
	allowSetid, err := envBool("DIRSYNC_ALLOW_SETID")
	if err != nil {
		return cfg, err
	}
	allowDevices, err := envBool("DIRSYNC_ALLOW_DEVICES")
	if err != nil {
		return cfg, err
	}
	level := envOr("DIRSYNC_LOG_LEVEL", "info")
	fs.StringVar(&cfg.root, "root", envOr("DIRSYNC_ROOT", defaultRoot),
		"directory to mirror into, created if missing; no authentication (env DIRSYNC_ROOT)")
	configFile := envOr("DIRSYNC_CONFIG", "")
	fs.StringVar(&configFile, "config", configFile,
		"tenants `file` (TOML, see above); every RPC then needs a token or client certificate (env DIRSYNC_CONFIG)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", envOr("DIRSYNC_TLS_CERT", ""),
		"serve TLS with this PEM certificate `file` (chain); needs --tls-key (env DIRSYNC_TLS_CERT)")
	fs.StringVar(&cfg.tlsKey, "tls-key", envOr("DIRSYNC_TLS_KEY", ""),
		"PEM private key `file` of --tls-cert (env DIRSYNC_TLS_KEY)")
	fs.StringVar(&cfg.clientCA, "client-ca", envOr("DIRSYNC_CLIENT_CA", ""),
		"verify client certificates against the PEM CA `file` (mutual TLS); needs --tls-cert (env DIRSYNC_CLIENT_CA)")
	fs.StringVar(&cfg.listen, "listen", envOr("DIRSYNC_LISTEN", "127.0.0.1:8080"),
		"address to listen on; port 0 picks a free port (env DIRSYNC_LISTEN)")
	fs.StringVar(&level, "log-level", level, "log level: debug, info, warn or error (env DIRSYNC_LOG_LEVEL)")
	fs.StringVar(&cfg.logFormat, "log-format", envOr("DIRSYNC_LOG_FORMAT", "text"),
		"log format: text (key=value) or json, one object a line; every record has component=server (env DIRSYNC_LOG_FORMAT)")
	fs.StringVar(&cfg.metricsListen, "metrics-listen", envOr("DIRSYNC_METRICS_LISTEN", ""),
		"serve Prometheus metrics at /metrics on this `address`, e.g. 127.0.0.1:9108; off by default. Metrics carry tenant names and no credentials guard them: keep the address on loopback or a monitoring network (env DIRSYNC_METRICS_LISTEN)")
	fs.IntVar(&cfg.maxMessageBytes, "max-message-bytes", int(min(maxBytes, math.MaxInt32)),
		"largest request message accepted, in bytes (env DIRSYNC_MAX_MESSAGE_BYTES)")
	fs.Int64Var(&cfg.maxFileBytes, "max-file-bytes", maxFile,
		"largest file an upload may write, in bytes; 0 means unlimited (env DIRSYNC_MAX_FILE_BYTES)")
	fs.Int64Var(&cfg.maxTempBytes, "max-temp-bytes", maxTemp,
		"bytes of uploads in flight per tenant, reserved on each file's declared size; a file larger than this is still accepted alone; 0 means unlimited (env DIRSYNC_MAX_TEMP_BYTES)")
	fs.IntVar(&cfg.maxUploadStreams, "max-upload-streams", int(min(maxStreams, math.MaxInt32)),
		"concurrent Upload streams per tenant (env DIRSYNC_MAX_UPLOAD_STREAMS)")
	fs.IntVar(&cfg.maxWatchers, "max-watchers", server.DefaultMaxWatchers,
		"concurrent WatchChanges streams per tenant; a watching client holds one")
	fs.Int64Var(&cfg.maxMemoryBytes, "max-memory-bytes", maxMemory,
		"memory, in bytes, that all request messages in flight may take together (wire, decompressed and decoded); a request that does not fit waits up to 10 s, then gets ResourceExhausted; the Go runtime's soft memory limit is set 64 MiB above it unless GOMEMLIMIT is set (env DIRSYNC_MAX_MEMORY_BYTES)")
	fs.BoolVar(&cfg.syncNewFiles, "sync-new-files", syncNew,
		"fsync every new file and its name before answering it, not only the files that replace another; see Durability above (env DIRSYNC_SYNC_NEW_FILES)")
	fs.BoolVar(&cfg.allowSetid, "allow-setid", allowSetid,
		"keep the setuid, setgid and sticky bits clients send; by default they are cleared, since as root the server would own such files; with --config, use each tenant's allow_setid (env DIRSYNC_ALLOW_SETID)")
	fs.BoolVar(&cfg.allowDevices, "allow-devices", allowDevices,
		"make the character and block devices clients send, as rsync -D does; only while the server runs as root, and refused (FailedPrecondition) by default; with --config, use each tenant's allow_devices (env DIRSYNC_ALLOW_DEVICES)")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprint(stdout, usageTail)
			return cfg, err
		}
		// The flag package has printed the error.
		return cfg, errReported
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := checkListen("--listen", cfg.listen); err != nil {
		return cfg, err
	}
	if cfg.metricsListen != "" {
		if err := checkListen("--metrics-listen", cfg.metricsListen); err != nil {
			return cfg, err
		}
	}
	if err := checkLogFormat(cfg.logFormat); err != nil {
		return cfg, err
	}
	if err := cfg.logLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	switch {
	case cfg.maxMessageBytes <= 0:
		return cfg, fmt.Errorf("max message bytes %d: want a positive number", cfg.maxMessageBytes)
	case cfg.maxFileBytes < 0:
		return cfg, fmt.Errorf("max file bytes %d: want 0 (unlimited) or a positive number", cfg.maxFileBytes)
	case cfg.maxTempBytes < 0:
		return cfg, fmt.Errorf("max temp bytes %d: want 0 (unlimited) or a positive number", cfg.maxTempBytes)
	case cfg.maxUploadStreams <= 0:
		return cfg, fmt.Errorf("max upload streams %d: want a positive number", cfg.maxUploadStreams)
	case cfg.maxWatchers <= 0:
		return cfg, fmt.Errorf("max watchers %d: want a positive number", cfg.maxWatchers)
	case cfg.maxMemoryBytes <= 0:
		return cfg, fmt.Errorf("max memory bytes %d: want a positive number", cfg.maxMemoryBytes)
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return cfg, errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.clientCA != "" && cfg.tlsCert == "" {
		return cfg, errors.New("--client-ca needs --tls-cert and --tls-key")
	}
	if configFile != "" {
		rootSet := os.Getenv("DIRSYNC_ROOT") != ""
		fs.Visit(func(f *flag.Flag) { rootSet = rootSet || f.Name == "root" })
		if rootSet {
			return cfg, errors.New("--root (or DIRSYNC_ROOT) and --config exclude each other: roots come from the tenants file")
		}
		if cfg.allowSetid {
			return cfg, errors.New("--allow-setid (or DIRSYNC_ALLOW_SETID) and --config exclude each other: set allow_setid per tenant in the tenants file")
		}
		if cfg.allowDevices {
			return cfg, errors.New("--allow-devices (or DIRSYNC_ALLOW_DEVICES) and --config exclude each other: set allow_devices per tenant in the tenants file")
		}
		tc, err := server.LoadConfig(configFile, nil)
		if err != nil {
			return cfg, err
		}
		cfg.tenants = &tc
		cfg.root = ""
		return cfg, nil
	}
	if cfg.root == "" {
		return cfg, errors.New("root must not be empty")
	}
	return cfg, nil
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if line != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return b.String()
}

// envInt returns the environment variable key as a number of at least
// min, or def if it is unset or empty.
func envInt(key string, def, min int64) (int64, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min {
		return 0, fmt.Errorf("%s=%q: want a whole number of at least %d", key, v, min)
	}
	return n, nil
}

// envBool returns the environment variable key as a boolean, false if it
// is unset or empty.
func envBool(key string) (bool, error) {
	v := os.Getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", key, v)
	}
	return b, nil
}

// envOr returns the environment variable key, or def if it is unset or
// empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// buildVersion returns the version set at link time or recorded in the
// build info.
func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// serve runs the server until SIGINT or SIGTERM, then shuts it down.
func serve(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The port is bound before the roots are indexed, which may take
	// minutes on a large tree: a port in use fails at once. Connections
	// made meanwhile wait in the listen backlog until serving starts.
	ln, err := listen(cfg.listen)
	if err != nil {
		return &startError{err}
	}
	defer ln.Close()
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		return &startError{err}
	}
	var metrics *server.Metrics
	var metricsLn net.Listener
	if cfg.metricsListen != "" {
		if metricsLn, err = listen(cfg.metricsListen); err != nil {
			return &startError{err}
		}
		defer metricsLn.Close()
		metrics = server.NewMetrics()
	}
	srv, err := newService(cfg, log, metrics)
	if err != nil {
		return &startError{err}
	}
	defer srv.Close()
	if ctx.Err() != nil {
		return nil // stopped while indexing
	}

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut long streams.
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          256,
			MaxReceiveBufferPerConnection: 8 << 20,
			MaxReceiveBufferPerStream:     4 << 20,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if w, ok := srv.(interface{ StopWatches() }); ok {
		// WatchChanges streams never end by themselves.
		hs.RegisterOnShutdown(w.StopWatches)
	}
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	if tlsConfig != nil {
		hs.Protocols.SetHTTP2(true)
		hs.TLSConfig = tlsConfig
	} else {
		hs.Protocols.SetUnencryptedHTTP2(true)
	}

	attrs := []any{"addr", ln.Addr().String(), "tls", tlsConfig != nil, "mtls", cfg.clientCA != "", "version", buildVersion()}
	if cfg.tenants != nil {
		attrs = append(attrs, "tenants", len(cfg.tenants.Tenants))
	} else {
		attrs = append(attrs, "root", cfg.root)
	}
	log.Info("listening", attrs...)
	if exposed(ln.Addr()) && tlsConfig == nil && cfg.tenants == nil {
		log.Warn("listening beyond loopback with neither TLS nor tokens: anyone who can reach the port can read and replace the whole tree; use --config with tokens and --tls-cert, or --listen 127.0.0.1:PORT",
			"addr", ln.Addr().String())
	}
	if metricsLn != nil {
		ms := serveMetrics(metricsLn, metrics, log)
		defer ms.Close()
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing connections", "error", err)
		hs.Close()
	}
	return srv.Close()
}

// listen binds addr, explaining the usual failures in the error.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = " (another server running? pick another with --listen)"
	case errors.Is(err, syscall.EACCES):
		hint = " (ports below 1024 need privileges; pick another with --listen)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = " (no interface of this machine has that address; pick another with --listen)"
	}
	cause := err
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		cause = sys.Err
	}
	return nil, fmt.Errorf("listen %s: %v%s", addr, cause, hint)
}

// checkListen checks that addr is host:port with a port that exists, so
// that a typo is a usage error rather than a failure to bind.
func checkListen(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port, e.g. 127.0.0.1:8080", flag, addr)
	}
	n, err := strconv.ParseUint(port, 10, 64)
	if err != nil {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return fmt.Errorf("%s %q: port %q is neither a number nor a service name", flag, addr, port)
		}
		return nil
	}
	if n > 65535 {
		return fmt.Errorf("%s %q: port %d out of range 0-65535", flag, addr, n)
	}
	return nil
}

// service is what serve runs: a single-root [server.Server] or a
// multi-tenant [server.Router].
type service interface {
	Handler() http.Handler
	Close() error
}

// newService creates the roots it serves if missing and opens them: the
// one root, or every tenant's.
func newService(cfg config, log *slog.Logger, metrics *server.Metrics) (service, error) {
	opts := server.Options{
		Logger:           log,
		Metrics:          metrics,
		Version:          buildVersion(),
		MaxMessageBytes:  cfg.maxMessageBytes,
		MaxFileBytes:     cfg.maxFileBytes,
		MaxTempBytes:     cfg.maxTempBytes,
		MaxUploadStreams: cfg.maxUploadStreams,
		MaxWatchers:      cfg.maxWatchers,
		MaxMemoryBytes:   cfg.maxMemoryBytes,
		SyncNewFiles:     cfg.syncNewFiles,
		AllowSetid:       cfg.allowSetid,
		AllowDevices:     cfg.allowDevices,
	}
	if cfg.maxTempBytes == 0 {
		opts.MaxTempBytes = -1 // unlimited
	}
	if cfg.tenants == nil {
		if err := os.MkdirAll(cfg.root, 0o755); err != nil {
			return nil, fmt.Errorf("create root: %w", err)
		}
		return server.New(cfg.root, opts)
	}
	for _, t := range cfg.tenants.Tenants {
		if err := os.MkdirAll(t.Root, 0o755); err != nil {
			return nil, fmt.Errorf("tenant %q: create root: %w", t.Name, err)
		}
		log.Info("tenant", "tenant", t.Name, "root", t.Root, "read_only", t.ReadOnly,
			"tokens", len(t.TokenHashes), "client_cert_cns", len(t.ClientCertCNs))
	}
	return server.NewRouter(*cfg.tenants, opts)
}
