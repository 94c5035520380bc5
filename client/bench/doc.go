// Command bench is the end-to-end benchmark harness behind `make bench-e2e`.
// It compares dirsync with rsync in one run on one machine.
//
// The harness generates its datasets from a seed into a work directory: a
// source-tree-like small dataset, a 1 GiB incompressible file and a 256 MiB
// text-like file, plus edited versions of each. It builds the real
// dirsync-server and dirsync-client, starts an rsync daemon on loopback and
// runs each scenario several times per tool, interleaving the tools and
// alternating which goes first. Every run starts from a server state copied
// from a pristine tree, after a pause (-settle, 6 s) that lets the memory
// freed by the previous run go back to the hypervisor, so both tools write
// into page cache in the same state (see bench.prepare). Afterwards the
// harness compares the server's tree with the source, byte for byte.
//
// What each run measures:
//   - wall time of the client process;
//   - bytes on the wire, counted by a TCP proxy between client and server
//     (countingProxy). Both tools go through it. rsync's own --stats figures
//     are kept as a cross-check.
//   - peak RSS of the client (rusage) and the server (VmHWM; for rsync, the
//     sum over the daemon's per-connection processes, sampled).
//
// The live-latency part (W1) measures only dirsync, in watch mode.
//
// Results go to the -out directory as results.md, results.json, ratios.svg
// and ratios.png. A failed verification is logged as an error, marked in
// results.md, and makes the command exit with status 1.
//
// The harness is a development tool. It trusts its own work directory, and it
// runs only the binaries it builds and the rsync found on PATH.
package main
