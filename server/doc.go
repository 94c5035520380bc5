// Package server implements the server side of dirsync: a
// [dirsyncv1connect.SyncServiceHandler] that keeps a directory an exact
// mirror of a client's directory.
//
// The main type is [Server], built by [New] over one root directory. Its
// [Server.Handler] serves the SyncService over Connect, gRPC and gRPC-Web,
// together with gRPC reflection and health checking, so grpcurl and buf curl
// can drive it by hand.
//
// # Trust boundary
//
// Everything that arrives from a client is untrusted. Every path is checked
// with [engine.ValidatePath] before it reaches the file system, and every
// file system operation goes through an [os.Root], so nothing outside the
// root can be read or written. Writes also refuse a path whose parent is a
// symlink, and changes never follow a symlink: deleting one deletes the link,
// and its mode and times are never set. Delta operations are validated by
// the engine's Patcher, and a file only replaces the old one after its
// SHA-256 has been verified, through a temporary file that is renamed into
// place: fsynced first when it replaces an entry, renamed at once (with
// RENAME_NOREPLACE) when its name is free; see [Options.SyncNewFiles].
//
// # Strangers
//
// A request is judged on its headers before any byte of its body is read.
// A [Router] authenticates every SyncService request in HTTP middleware
// (auth.go) and answers a refusal in the request's protocol; health
// checking and reflection stay open for probes. Every handler bounds its
// messages after decompression ([Options.MaxMessageBytes] for the
// SyncService, 64 KiB for the probes), and its gzip and zstd decompressors
// stop at that bound instead of inflating a bomb to count it
// (decompress.go). Beyond the limits per message, stream and tenant, one
// budget bounds the memory of all request messages in flight together
// ([Options.MaxMemoryBytes], bodymeter.go): each message's wire,
// decompressed and decoded bytes are reserved before Connect reads it, and
// a message that does not fit waits for room, then fails with
// ResourceExhausted.
//
// # Sparse files
//
// Every file the server writes (uploads, deltas, copied content) skips its
// aligned all-zero blocks of 4 KiB with a seek, so they stay holes, as
// rsync -S makes them; a trailing hole is made with ftruncate. A client
// names the holes it finds as DeltaOp zeros instead of sending them. The
// SHA-256 a file is verified with covers its zeros as any other bytes.
//
// # Hard links
//
// A manifest reports the files that share an inode: every file of a set
// but the first in path order names that one in hardlink_target, so a
// client that links its own files the same way finds nothing to change.
// ApplyChanges make_hardlink links a path to a regular file under the
// root with linkat, under a temporary name renamed into place; writing a
// file anew (an upload, copy_content) makes it a file of its own, and the
// client links the rest of its set again.
//
// # Content index
//
// The server keeps an in-memory index from path to SHA-256 and back, built
// by hashing the whole tree at start and kept current on every write. It
// answers GetManifest without rehashing unchanged files and lets
// ApplyChanges make a file from content the server already holds. The index
// is a cache: an entry is used only while the file's size and modification
// time still match it, and copied content is verified again.
//
// # Interrupted uploads
//
// When an Upload stream ends in the middle of a file of at least 1 MiB that
// had not failed, the server keeps what it wrote, hidden, beside the target
// (partial.go). GetPartial reports its size and SHA-256, and an upload whose
// header names it (UploadHeader.resume) continues after it. The kept bytes
// are hashed again when claimed, and the whole file's SHA-256 is verified as
// for any upload, so nothing in a partial is trusted. A full disk (ENOSPC,
// EDQUOT) fails the file with ResourceExhausted and leaves the old version.
//
// # Change stream
//
// WatchChanges streams what changes under the root, in order, numbered with
// generations of one server instance (changefeed.go). The first call starts
// watching the root with fsnotify, a watch per directory (rootwatch.go);
// directories past the inotify limits are rescanned every 10 s instead
// (rootpoll.go). Events are gathered for 10 ms and published once per
// path; past 4096 paths in one window they become one RESCAN of the root.
// The server marks the paths it changes for clients (ApplyChanges, upload
// renames) and compares what it finds there with what it left (inode,
// size, mtime, ctime), so a change of its own is flagged SERVER and any
// other is EXTERNAL: drift, which watching clients repair. Temporary files
// make no events. Memory is bounded everywhere: the newest 4096 events are
// kept for resuming, each stream queues at most 1024 (then it gets a
// RESYNC), and a Server serves at most [Options.MaxWatchers] streams.
//
// # Durability and faults
//
// A file reaches its final path only by a rename, after its SHA-256 was
// verified, so a server killed at any instant leaves every path at its old
// or its new version. A file that replaces an entry is fsynced before the
// rename and the rename is synced before the client hears of it, so a
// power loss leaves the old version or the new one. A file with a new name
// is renamed into place at once (renameat2 with RENAME_NOREPLACE) and left
// to the kernel's writeback, as rsync's and cp's files are: a power loss
// within about 30 s may leave it missing or short, never holding other
// bytes, and the client's next pass sends it again. [Options.SyncNewFiles]
// (--sync-new-files) makes new files durable before they are answered too,
// with one syncfs shared by each group of files. Temporary files left by a
// crash are removed at the next start; partials of interrupted uploads are
// kept for 24 hours. client/e2e/faults_test.go kills the server and the
// client with SIGKILL at seeded random points (DIRSYNC_FAULT_SEED replays
// one) and checks that every path holds a version the client wrote.
//
// # Limits
//
// Every size from the network is bounded before anything is allocated or
// written: request messages after decompression (--max-message-bytes), the
// memory of all requests in flight (--max-memory-bytes), file size
// (--max-file-bytes), bytes of uploads in flight per tenant
// (--max-temp-bytes), Upload and WatchChanges streams per tenant
// (--max-upload-streams, --max-watchers), paths (4096 bytes, 255 a name),
// changes and manifest paths per request (10000), literal chunks (256 KiB),
// block sizes (512 B to 1 MiB) and block runs (the base's blocks). A
// request over a limit fails with ResourceExhausted or InvalidArgument and
// a message naming the limit and its value; the server goes on serving
// everyone else. The proofs are hostile_test.go, hostiledelta_test.go,
// limits_test.go, the fuzz targets, and client/e2e's load and strangers
// tests.
//
// # Errors
//
// Errors are mapped to Connect codes in one place (errors.go); messages sent
// to clients name relative paths only. The file system's refusals name
// their cause: a full disk or quota is ResourceExhausted, a permission
// denied, an immutable entry or a read-only mount is FailedPrecondition
// (not PermissionDenied, which is about the caller's credentials), e.g.
// `upload: server cannot write "a/b": read-only file system`. New warns
// when the root is not writable.
//
// # Modes
//
// The server clears setuid, setgid and sticky bits from the modes peers
// send unless Options.AllowSetid is set (setid.go): running as root, it
// would otherwise own a tenant's setuid executables. Every
// GetManifestResponse says whether it does, so that clients compare modes
// without those bits.
package server
