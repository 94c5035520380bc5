// Package client is the sending side of dirsync: it keeps a directory on a
// dirsync server an exact mirror of a local directory.
//
// A [Client] talks to the server's dirsync.v1.SyncService over Connect's gRPC
// protocol on cleartext HTTP/2 (h2c). One sync pass ([Client.SyncOnce])
// scans the local tree, fetches the server's manifest, diffs the two with
// the engine and applies the plan: deletions, directories, file contents,
// symlinks and special files (named pipes; devices where the server runs
// as root and allows them), then metadata, and last the root directory's
// own mode and mtime, as rsync -a does. Every name Linux allows is
// mirrored: a path that is not UTF-8 travels in the raw_path fields,
// which protobuf strings cannot stand in for. File contents travel in one of three ways,
// cheapest first: not at all when the server already holds the content
// anywhere (ApplyChanges copy_content), as an rsync-like delta against the
// server's old copy, or as literal bytes; the holes of a sparse file,
// found with SEEK_DATA and SEEK_HOLE, go as zeros ops of a few bytes, and
// stay holes on the server. Files hard-linked together locally go once:
// the first of each set in path order is sent, and the server links the
// others to it (make_hardlink), again whenever the first is sent anew. A
// watch-mode pass that meets a hard-linked file runs over the whole tree,
// which alone lists the other links of its set. Uploads are pipelined on
// Options.Concurrency long-lived bidirectional streams.
//
// [Client.Watch] runs a full pass, then watches the tree with fsnotify and
// runs small incremental passes over the paths that changed, reconnecting
// with exponential backoff when the server goes away. It also follows the
// server's WatchChanges stream (drift.go): a path changed on the server by
// anything but the server's own work for clients gets a scoped pass, which
// puts the mirror back; a RESYNC or a new server instance gets a full pass.
// A full pass every Options.VerifyInterval is the backstop for both sides.
//
// Paths matched by the ignore rules (Options.Excludes and a .dirsyncignore
// file at the root, both in gitignore syntax) are neither scanned, watched
// nor deleted: the server's copies under them are left alone.
//
// A server that clears setuid, setgid and sticky bits (the default; see the
// server's --allow-setid) says so with each manifest: the client then
// compares modes without those bits, so that a pass converges, and counts
// the entries that have them in [Summary.SetidDropped].
//
// Trust boundary: everything the server sends (manifests, signatures,
// results) is validated before use; the server never names a local path
// that the client did not scan itself. A failure on one file is recorded
// in the pass's [Summary] and the rest of the pass goes on; the file is
// retried on the next pass.
//
// The package logs through the *slog.Logger in [Options] and discards logs
// when none is given. A Client is safe for use by one goroutine at a time:
// a pass never runs concurrently with another.
package client
