package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// busyLine is line i of the busy log: fixed width, so that a copy's size
// says how many lines it holds.
func busyLine(i int) []byte {
	return fmt.Appendf(nil, "busy line %08d\n", i)
}

// busyPrefix returns how many lines the copy at path holds, and an error
// if it is not a whole-line prefix of the busy log (torn, or garbage).
func busyPrefix(path string) (int, error) {
	got, err := os.ReadFile(path)
	if err != nil {
		return 0, nil // not there yet, or being replaced
	}
	width := len(busyLine(0))
	if len(got)%width != 0 {
		return 0, fmt.Errorf("server copy of %d bytes ends inside a line", len(got))
	}
	n := len(got) / width
	for i := range n {
		if line := got[i*width : (i+1)*width]; !bytes.Equal(line, busyLine(i)) {
			return 0, fmt.Errorf("server copy line %d is %q, want %q", i, line, busyLine(i))
		}
	}
	return n, nil
}

// TestWatchBusyWriter checks that a file appended every 3 ms, as a build
// log is, holds back neither itself nor an unrelated change: its server
// copy advances while the writes go on, always as a whole version of it,
// and the unrelated file arrives before the writes stop.
func TestWatchBusyWriter(t *testing.T) {
	const (
		interval = 3 * time.Millisecond
		writeFor = 2 * time.Second
		// advances is how many times the server's copy must be seen
		// to grow during the writes; a pass at least every 100 ms
		// gives 20.
		advances = 10
	)
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, src, "other.txt", []byte("before\n"), 0o644)
	writeFile(t, src, "busy.log", nil, 0o644)
	s := startServer(t, dst)
	startWatch(t, src, s)
	waitMirror(t, src, dst, 30*time.Second)

	f, err := os.OpenFile(filepath.Join(src, "busy.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writing := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		defer close(writing)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		end := time.Now().Add(writeFor)
		for i := 0; time.Now().Before(end); i++ {
			if _, err := f.Write(busyLine(i)); err != nil {
				writeErr <- err
				return
			}
			<-tick.C
		}
	}()

	// The unrelated change, made while the log is written.
	time.Sleep(200 * time.Millisecond)
	otherContent := []byte("changed while busy.log is written\n")
	writeFile(t, src, "other.txt", otherContent, 0o644)

	var (
		lines, grew  int
		otherArrived bool
	)
	for done := false; !done; {
		select {
		case <-writing:
			done = true
		case <-time.After(2 * time.Millisecond):
		}
		n, err := busyPrefix(filepath.Join(dst, "busy.log"))
		if err != nil {
			t.Fatal(err)
		}
		if n > lines {
			lines = n
			grew++
		}
		if !otherArrived {
			got, _ := os.ReadFile(filepath.Join(dst, "other.txt"))
			otherArrived = bytes.Equal(got, otherContent)
		}
	}
	select {
	case err := <-writeErr:
		t.Fatal(err)
	default:
	}
	if !otherArrived {
		t.Error("the unrelated change did not arrive while busy.log was written")
	}
	if grew < advances {
		t.Errorf("the server's copy of busy.log grew %d times while it was written for %v, want at least %d", grew, writeFor, advances)
	}
	t.Logf("server copy of busy.log grew %d times during the writes, to %d lines", grew, lines)
	waitMirror(t, src, dst, 30*time.Second)
}
