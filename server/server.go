package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// DefaultMaxMessageBytes is the largest request message a [Server] accepts
// when [Options.MaxMessageBytes] is 0. It leaves ample room for an Upload
// message of many 256 KiB literals and for a batch of 10000 changes.
const DefaultMaxMessageBytes = 64 << 20

// Options tunes a [Server]. The zero value is usable.
type Options struct {
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Version is reported by the Status RPC.
	Version string
	// Name, when set, is what the Status RPC reports as the root instead
	// of the directory given to New: a tenant's name, so that clients
	// never learn a server path.
	Name string
	// MaxMessageBytes is the largest request message, in bytes after
	// decompression, that the server reads; 0 means
	// [DefaultMaxMessageBytes].
	MaxMessageBytes int
	// MaxFileBytes is the largest file, in bytes, that an upload may
	// declare and write; 0 means unlimited.
	MaxFileBytes int64
	// MaxTempBytes bounds the bytes of uploads in flight, reserved on
	// the size each upload's header declares and released when the file
	// is committed or abandoned; an upload over the bound is refused
	// with ResourceExhausted, unless it is the only one in flight. 0
	// means [DefaultMaxTempBytes]; a negative value means unlimited.
	MaxTempBytes int64
	// MaxUploadStreams bounds the concurrent Upload streams; one more is
	// refused with ResourceExhausted. 0 means [DefaultMaxUploadStreams].
	MaxUploadStreams int
	// MaxMemoryBytes is the budget, in bytes, of the memory that request
	// messages in flight may take, for all of them together: wire bytes,
	// decompressed bytes and decoded messages. A message that does not fit
	// waits for room, then fails with ResourceExhausted. 0 means
	// [DefaultMaxMemoryBytes]. A [Router]'s tenants share one budget.
	MaxMemoryBytes int64
	// HashWorkers is how many files the server hashes in parallel when it
	// builds its content index and manifests; 0 means up to 4, bounded by
	// GOMAXPROCS.
	HashWorkers int
	// SyncNewFiles makes every file durable, data and name, before the
	// server answers it. By default only a file that replaces an entry
	// is: its data is fsynced before the rename, so after a crash its
	// path holds the old version or the new one. A file written to a free
	// name is renamed into place at once, like rsync's and cp's, and
	// reaches the disk with the kernel's writeback (within about 30
	// seconds on Linux). A power loss before then may leave it missing,
	// empty or short, never with another file's bytes on the file
	// systems Linux mounts by default (ext4 orders data before metadata,
	// XFS and Btrfs likewise), and the client's next pass sends it again,
	// as its size then differs. A killed server loses nothing: the page
	// cache survives it.
	SyncNewFiles bool
	// AllowSetid keeps the setuid, setgid and sticky bits of the modes
	// peers send. By default they are cleared: a server running as root
	// would otherwise make a peer's setuid file a root-owned setuid
	// executable.
	AllowSetid bool
	// AllowDevices lets peers make character and block devices, which
	// the server does only while it runs as root. By default, and when
	// it is not root, it refuses them with FailedPrecondition: a device
	// node is a door to the hardware for whoever may open it.
	AllowDevices bool
	// WriteFault is a hook for tests only, nil otherwise: when set, it is
	// called before every write of file content (uploads and copied
	// content) with the number of bytes about to be written, and an error
	// it returns fails that write as if the file system had. Tests use it
	// to make the disk look full (syscall.ENOSPC) where they cannot mount
	// a small file system. It must be safe for concurrent use.
	WriteFault func(n int) error
	// MaxWatchers bounds the concurrent WatchChanges streams; one more is
	// refused with ResourceExhausted. 0 means [DefaultMaxWatchers].
	MaxWatchers int
	// Metrics, when set, exposes the server's counters and RPCs under
	// the tenant label Name, or [SingleTenant] when Name is empty.
	Metrics *Metrics
}

// Server is the dirsync SyncService over one root directory. Build it with
// [New], serve [Server.Handler], and [Server.Close] it when done. It is safe
// for concurrent use: any number of RPCs may run at once, and requests that
// change the same path are serialised.
type Server struct {
	root        *os.Root
	rootName    string // Options.Name or the root as given to New, reported by Status
	rootPath    string // absolute, for the engine's scans
	version     string
	startedAt   time.Time
	log         *slog.Logger
	maxMsgBytes int
	maxFile     int64
	hashWorkers int
	// syncNewFiles is Options.SyncNewFiles.
	syncNewFiles bool
	// identity is what Status reports of the root's place on this
	// machine, for clients to find an overlap with their directory.
	identity rootIdentity

	temp    tempBudget
	streams streamCap
	budget  *memBudget

	index    *contentIndex
	locks    *pathLocks
	partials partials
	stats    stats
	barriers syncBarriers
	// tempSeq numbers the temporary files in the order they are opened;
	// see [syncRound.add].
	tempSeq atomic.Uint64
	// dirEpoch counts directory removals; see [dirCache].
	dirEpoch atomic.Uint64
	// allowSetid is Options.AllowSetid.
	allowSetid bool
	// allowDevices is Options.AllowDevices.
	allowDevices bool
	// writeFault is Options.WriteFault.
	writeFault func(n int) error
	// metrics is Options.Metrics, nil when off; tenant is its label.
	metrics *Metrics
	tenant  string

	// feed numbers the changes to the tree for WatchChanges; watch, set
	// by the first WatchChanges call and guarded by watchMu, publishes to
	// it. watchStop is closed by StopWatches.
	feed          *changeFeed
	watchOnce     sync.Once
	watchMu       sync.Mutex
	watch         *rootWatch
	watchStop     chan struct{}
	watchStopOnce sync.Once

	handler   http.Handler
	closeOnce sync.Once
	closeErr  error
}

var _ dirsyncv1connect.SyncServiceHandler = (*Server)(nil)

// New opens the existing directory root and returns a Server that mirrors
// into it. Before it returns, it removes temporary files left under root
// by an earlier run that stopped halfway, and hashes every regular file to
// build the content index, so it may take a while on a large tree. It
// logs a warning when the root is not writable.
func New(root string, opts Options) (*Server, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve root %q: %w", root, err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	s := &Server{
		root:         r,
		rootName:     root,
		rootPath:     abs,
		version:      opts.Version,
		startedAt:    time.Now(),
		log:          opts.Logger,
		maxMsgBytes:  opts.MaxMessageBytes,
		maxFile:      opts.MaxFileBytes,
		hashWorkers:  opts.HashWorkers,
		syncNewFiles: opts.SyncNewFiles,
		writeFault:   opts.WriteFault,
		allowSetid:   opts.AllowSetid,
		allowDevices: opts.AllowDevices,
		metrics:      opts.Metrics,
		index:        newContentIndex(),
		locks:        newPathLocks(),
		watchStop:    make(chan struct{}),
	}
	maxWatchers := opts.MaxWatchers
	if maxWatchers <= 0 {
		maxWatchers = DefaultMaxWatchers
	}
	s.feed = newChangeFeed(maxWatchers)
	s.tenant = SingleTenant
	if opts.Name != "" {
		s.rootName = opts.Name
		s.tenant = opts.Name
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.maxMsgBytes <= 0 {
		s.maxMsgBytes = DefaultMaxMessageBytes
	}
	switch {
	case opts.MaxTempBytes == 0:
		s.temp.limit = DefaultMaxTempBytes
	case opts.MaxTempBytes > 0:
		s.temp.limit = opts.MaxTempBytes
	}
	s.streams.limit = int64(opts.MaxUploadStreams)
	if s.streams.limit <= 0 {
		s.streams.limit = DefaultMaxUploadStreams
	}
	s.budget = newMemBudget(memoryBytes(opts))
	if s.hashWorkers <= 0 {
		s.hashWorkers = min(4, runtime.GOMAXPROCS(0))
	}
	s.identity = newRootIdentity(abs, s.log)
	if err := s.buildIndex(context.Background()); err != nil {
		r.Close()
		return nil, err
	}
	s.checkWritable()
	s.handler = s.newHandler()
	if s.metrics != nil {
		s.metrics.add(s.tenant, s)
	}
	return s, nil
}

// Handler returns the HTTP handler that serves the SyncService, gRPC
// reflection (v1 and v1alpha) and gRPC health checking. It needs HTTP/2 for
// the bidirectional Upload stream: serve it over TLS or h2c.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close releases the root directory. RPCs still running fail; stop the
// HTTP server first. Close may be called more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeWatch()
		if err := s.root.Close(); err != nil {
			s.closeErr = fmt.Errorf("close root: %w", err)
		}
	})
	return s.closeErr
}

// memoryBytes returns the memory budget opts asks for.
func memoryBytes(opts Options) int64 {
	if opts.MaxMemoryBytes > 0 {
		return opts.MaxMemoryBytes
	}
	return DefaultMaxMemoryBytes
}
