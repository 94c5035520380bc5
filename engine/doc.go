// Package engine is the transport-free heart of dirsync: rolling-checksum
// deltas and the tree model that both the server and the client use.
//
// The delta half works like rsync. [Sign] reads the receiver's copy of a file
// (the base) and builds a [Signature]: a weak rolling checksum and a
// truncated strong hash per block. [Delta] reads the sender's copy (the
// target) once, rolls the weak checksum one byte at a time, and streams
// [Op] values through a callback: runs of base blocks to copy and literal
// bytes to insert. A [Patcher] applies those operations to the base and
// verifies the SHA-256 of the result, which remains the file's identity.
//
// The tree half describes a directory as a [Manifest] of [Entry] values with
// slash-separated relative paths, computes a [Plan] that turns one manifest
// into another with [Diff], and validates paths with [ValidatePath].
//
// Trust boundary: everything that arrives from a peer (signatures,
// operations, manifests, paths) must be validated by this package's
// Validate functions, or by the Patcher as it applies operations, before it
// is used. engine never logs, never touches the network, and imports
// neither gen, connect, server nor client.
package engine
