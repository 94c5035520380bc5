//go:build race

package engine

// raceEnabled reports that the race detector is on, which slows the
// byte-at-a-time loops about tenfold; large tests shrink accordingly.
const raceEnabled = true
