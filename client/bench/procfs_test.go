package main

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestDescendants(t *testing.T) {
	// sh, its two sleeps, and a sleep below a nested sh.
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & sh -c 'sleep 30 & wait' & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range scanDescendants(cmd.Process.Pid) {
			syscall.Kill(id, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	var scanned []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if scanned = scanDescendants(cmd.Process.Pid); len(scanned) == 4 {
			break
		}
	}
	if len(scanned) != 4 {
		t.Fatalf("scan found %d descendants (%v), want 4", len(scanned), scanned)
	}
	if !childrenFilesWork() {
		t.Skip("no /proc/PID/task/TID/children here")
	}
	got := descendants(cmd.Process.Pid)
	slices.Sort(got)
	slices.Sort(scanned)
	if !slices.Equal(got, scanned) {
		t.Errorf("descendants = %v, the scan of /proc found %v", got, scanned)
	}
	if ds := descendants(1 << 30); len(ds) != 0 {
		t.Errorf("descendants of a missing process = %v, want none", ds)
	}
}

// scanDescendants lists the processes below pid the way a kernel without
// the children files has them found: by scanning /proc.
func scanDescendants(pid int) []int { return walkTree(pid, scanChildren()) }
