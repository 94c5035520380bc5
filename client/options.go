package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// Defaults for the zero values of [Options].
const (
	// DefaultServerURL is where the server listens unless told otherwise.
	DefaultServerURL = "http://127.0.0.1:8080"
	// DefaultConcurrency is the number of parallel Upload streams.
	DefaultConcurrency = 4
	// MaxConcurrency bounds Options.Concurrency.
	MaxConcurrency = 64
	// DefaultCompression is the message codec used when none is named.
	// zstd sends fewer bytes than gzip at less CPU (see
	// [engine.NewZstdWriter]); on loopback, where bytes are free,
	// "none" is faster still.
	DefaultCompression = engine.CompressionZstd
)

// ErrInvalidOptions is wrapped by the errors [New] returns for bad
// [Options]; a command line reports it as a usage error.
var ErrInvalidOptions = errors.New("invalid options")

// Options configures a [Client]. The zero value of each field but Dir
// selects its default.
type Options struct {
	// Dir is the local directory to mirror. It must exist; New makes it
	// absolute.
	Dir string
	// ServerURL is the server's base URL: "http://host:port" for
	// cleartext HTTP/2 (h2c), "https://host:port" for HTTP/2 over TLS.
	ServerURL string
	// Token, when not empty, is sent as a bearer token on every RPC. It
	// is never logged. Over http:// to a host other than loopback it
	// travels in clear, and New logs a warning saying so.
	Token string
	// TLSConfig configures TLS for an https ServerURL: RootCAs to trust a
	// private CA, Certificates for mutual TLS. nil means the system's
	// roots and no client certificate. It is ignored for http.
	TLSConfig *tls.Config
	// BlockSize is the delta block size to ask the server for; 0 lets the
	// server choose one per file (about half the square root of its size).
	// Otherwise it must lie in [engine.MinBlockSize, engine.MaxBlockSize].
	BlockSize int
	// Compression names the message codec: "none", "gzip" or "zstd";
	// "" selects [DefaultCompression].
	Compression string
	// Concurrency is the number of parallel Upload streams, 1 to
	// [MaxConcurrency]; 0 selects [DefaultConcurrency].
	Concurrency int
	// Excludes are extra ignore patterns in gitignore syntax, applied
	// together with the .dirsyncignore file at the root of Dir.
	Excludes []string
	// MaxDelete bounds the deletions of one pass, counted as the entries
	// they remove on the server (a directory with its whole subtree): a
	// positive value is the most a pass may delete, [MaxDeleteAuto] (the
	// zero value) applies the default rule, [MaxDeleteUnlimited] lifts
	// the bound and [MaxDeleteNone] forbids deletions. A pass whose
	// deletions go past the bound sends none of them (see [DeleteHold]).
	MaxDelete int
	// AllowEmpty lets a pass delete everything on the server when the
	// local tree is empty. Without it, such a pass holds its deletions
	// back: an empty directory is far more often a mistake (a wrong
	// directory, one emptied by accident) than a wish.
	AllowEmpty bool
	// DryRun makes [Client.SyncOnce] compute the plan and change nothing.
	DryRun bool
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// Progress, when not nil, receives a progress bar during full passes.
	// Give it a terminal only.
	Progress io.Writer
	// VerifyInterval is how often watch mode runs a full pass to verify
	// the mirror, for changes on either side that no event reported: 0
	// selects [DefaultVerifyInterval], a negative value runs none.
	VerifyInterval time.Duration
	// Metrics, when not nil, records the client's passes and traffic.
	Metrics *Metrics
}

// DefaultVerifyInterval is the period of watch mode's verification passes
// when Options.VerifyInterval is 0: each costs a scan of the local tree
// and a listing of the server's, and changes nothing while they match.
const DefaultVerifyInterval = 5 * time.Minute

// withDefaults returns o with its zero values replaced by defaults, or an
// error wrapping ErrInvalidOptions.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("%w: no directory given", ErrInvalidOptions)
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("%w: directory: %w", ErrInvalidOptions, err)
	}
	o.Dir = abs
	info, err := os.Stat(o.Dir)
	if err != nil {
		return o, fmt.Errorf("%w: directory: %w", ErrInvalidOptions, err)
	}
	if !info.IsDir() {
		return o, fmt.Errorf("%w: %q is not a directory", ErrInvalidOptions, o.Dir)
	}
	if o.ServerURL == "" {
		o.ServerURL = DefaultServerURL
	}
	switch {
	case o.VerifyInterval == 0:
		o.VerifyInterval = DefaultVerifyInterval
	case o.VerifyInterval < 0:
		o.VerifyInterval = 0
	}
	u, err := url.Parse(o.ServerURL)
	if err != nil {
		return o, fmt.Errorf("%w: server url: %w", ErrInvalidOptions, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("%w: server url %q: want http://host:port (cleartext HTTP/2) or https://host:port (TLS)",
			ErrInvalidOptions, o.ServerURL)
	}
	if strings.ContainsAny(o.Token, " \t\r\n") {
		return o, fmt.Errorf("%w: token contains white space", ErrInvalidOptions)
	}
	if o.BlockSize != 0 && (o.BlockSize < engine.MinBlockSize || o.BlockSize > engine.MaxBlockSize) {
		return o, fmt.Errorf("%w: block size %d: want 0 (adaptive) or %d to %d",
			ErrInvalidOptions, o.BlockSize, engine.MinBlockSize, engine.MaxBlockSize)
	}
	switch o.Compression {
	case "":
		o.Compression = DefaultCompression
	case engine.CompressionNone, engine.CompressionGzip, engine.CompressionZstd:
	default:
		return o, fmt.Errorf("%w: compression %q: want none, gzip or zstd", ErrInvalidOptions, o.Compression)
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return o, fmt.Errorf("%w: concurrency %d: want 1 to %d", ErrInvalidOptions, o.Concurrency, MaxConcurrency)
	}
	for _, p := range o.Excludes {
		if p == "" {
			return o, fmt.Errorf("%w: empty exclude pattern", ErrInvalidOptions)
		}
	}
	if o.MaxDelete < MaxDeleteNone {
		return o, fmt.Errorf("%w: max delete %d: want a positive limit, %d (default rule), %d (unlimited) or %d (none)",
			ErrInvalidOptions, o.MaxDelete, MaxDeleteAuto, MaxDeleteUnlimited, MaxDeleteNone)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
