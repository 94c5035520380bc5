package e2e_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The full scale test is too slow for make test: it runs only when
// DIRSYNC_SCALE is set (make scale sets it). DIRSYNC_SCALE_FILES lists the
// tree sizes to run, comma separated; the default is the 200,000
// files. Without DIRSYNC_SCALE, the same test runs on a small tree with no
// idle measurement, so that it keeps working.
const (
	scaleEnv      = "DIRSYNC_SCALE"
	scaleFilesEnv = "DIRSYNC_SCALE_FILES"
	// scaleFilesPerDir is how many files a leaf directory of the scale
	// tree holds, and scaleFanout how many leaves share a parent: 200,000
	// files make 10,000 leaves under 100 parents.
	scaleFilesPerDir = 20
	scaleFanout      = 100
	// scaleIdle is how long the idle CPU measurement lasts.
	scaleIdle = 30 * time.Second
	// smallScaleFiles is the size of the tree make test uses.
	smallScaleFiles = 2000
	// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
	// 100 on every Linux architecture Go supports.
	clockTicks = 100
)

func TestScale(t *testing.T) {
	if os.Getenv(scaleEnv) == "" {
		if testing.Short() {
			t.Skip("syncs and watches a tree of 2,000 files")
		}
		testScale(t, smallScaleFiles, 0)
		return
	}
	sizes := []int{200_000}
	if s := os.Getenv(scaleFilesEnv); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				t.Fatalf("%s: bad size %q", scaleFilesEnv, f)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		t.Run(fmt.Sprintf("files=%d", n), func(t *testing.T) { testScale(t, n, scaleIdle) })
	}
}

// testScale syncs a tree of n files with a watching client, makes a few
// changes, and logs the figures: time to the initial sync, memory of both
// processes, inotify watches, and CPU over idle (if not 0) without changes.
func testScale(t *testing.T, n int, idle time.Duration) {
	src, dst := t.TempDir(), t.TempDir()
	start := time.Now()
	dirs := makeScaleTree(t, src, n)
	t.Logf("made %d files in %d directories in %v", n, dirs, time.Since(start).Round(time.Millisecond))

	s := startServer(t, dst, "--log-level", "info")
	start = time.Now()
	c := startWatch(t, src, s, "--log-level", "info")
	waitLog(t, c, `msg="pass done" component=client full=true`, 20*time.Minute)
	initial := time.Since(start)
	t.Logf("initial sync: %v", initial.Round(time.Millisecond))
	requireSameTree(t, src, dst)

	// A few changes while watching: an edit, a new directory with files,
	// a deletion and a renamed directory.
	writeFile(t, src, "scale-new/sub/a.txt", []byte("new file in a new directory"), 0o644)
	writeFile(t, src, "scale-new/sub/b.txt", []byte("another"), 0o600)
	if n > 0 {
		edit := scaleFile(0, 0)
		writeFile(t, src, edit, []byte("edited while watching"), 0o644)
		if err := os.Remove(filepath.Join(src, scaleFile(1, 1))); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(src, scaleDir(0, 2)), filepath.Join(src, "d000", "renamed")); err != nil {
			t.Fatal(err)
		}
	}
	waitSameTree(t, src, dst, 5*time.Minute)

	// Idle: nothing changes; neither side should poll.
	cpu0c, cpu0s := cpuTicks(t, c.cmd.Process.Pid), cpuTicks(t, s.cmd.Process.Pid)
	time.Sleep(idle) // the measurement itself, not a wait for a condition
	cpu1c, cpu1s := cpuTicks(t, c.cmd.Process.Pid), cpuTicks(t, s.cmd.Process.Pid)

	cpid, spid := c.cmd.Process.Pid, s.cmd.Process.Pid
	t.Logf("scale figures: files=%d dirs=%d initial_sync=%v watches=%d "+
		"client_rss_mib=%.1f client_hwm_mib=%.1f server_rss_mib=%.1f server_hwm_mib=%.1f "+
		"idle_cpu_s_client=%.2f idle_cpu_s_server=%.2f (over %v)",
		n, dirs, initial.Round(time.Millisecond), inotifyWatches(t, cpid),
		procMiB(t, cpid, "VmRSS"), procMiB(t, cpid, "VmHWM"), procMiB(t, spid, "VmRSS"), procMiB(t, spid, "VmHWM"),
		float64(cpu1c-cpu0c)/clockTicks, float64(cpu1s-cpu0s)/clockTicks, idle)

	for _, l := range lines(c.output.String()) {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			t.Errorf("client logged a problem: %s", l)
		}
	}
}

// scaleDir is the path of leaf directory j under parent i of the scale
// tree, and scaleFile that of file k in leaf j of parent 0.
func scaleDir(i, j int) string { return fmt.Sprintf("d%03d/e%03d", i, j) }

func scaleFile(j, k int) string { return fmt.Sprintf("%s/f%02d.txt", scaleDir(0, j), k) }

// makeScaleTree writes n small files, scaleFilesPerDir to a leaf directory,
// scaleFanout leaves to a parent, and returns how many directories it made.
// Names, sizes (0 to 2 KiB) and text-like contents follow from the file's
// index alone, so the tree is the same on every run.
func makeScaleTree(t *testing.T, root string, n int) int {
	t.Helper()
	leaves := (n + scaleFilesPerDir - 1) / scaleFilesPerDir
	parents := (leaves + scaleFanout - 1) / scaleFanout
	for l := range leaves {
		if err := os.MkdirAll(filepath.Join(root, scaleDir(l/scaleFanout, l%scaleFanout)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const workers = 8
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := w; i < n; i += workers {
				l := i / scaleFilesPerDir
				name := fmt.Sprintf("%s/f%02d.txt", scaleDir(l/scaleFanout, l%scaleFanout), i%scaleFilesPerDir)
				r := rand.New(rand.NewPCG(42, uint64(i)))
				size := r.IntN(2048)
				buf.Reset()
				for buf.Len() < size {
					fmt.Fprintf(&buf, "%s line %d value %x\n", name, buf.Len(), r.Uint64())
				}
				if err := os.WriteFile(filepath.Join(root, name), buf.Bytes()[:size], 0o644); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return leaves + parents
}

// waitLog polls until the process's output contains s.
func waitLog(t *testing.T, p *process, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.output.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output after %v", s, timeout)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v", p.cmd.Path, p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sameTree describes the first differences between two trees, or returns
// "" when they hold the same items with the same bytes, modes, mtimes and
// link targets. Unlike diffTrees it keeps no file content in memory.
func sameTree(want, got string) string {
	var diffs []string
	seen := 0
	err := filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(want, path)
		if err != nil || rel == "." {
			return err
		}
		seen++
		if len(diffs) >= 20 {
			return nil
		}
		if d := compareItem(path, filepath.Join(got, rel)); d != "" {
			diffs = append(diffs, rel+": "+d)
		}
		return nil
	})
	if err != nil {
		return "walk " + want + ": " + err.Error()
	}
	count := 0
	err = filepath.WalkDir(got, func(path string, d fs.DirEntry, err error) error {
		if err == nil && path != got {
			count++
		}
		return err
	})
	if err != nil {
		return "walk " + got + ": " + err.Error()
	}
	if count != seen {
		diffs = append(diffs, fmt.Sprintf("server holds %d items, want %d", count, seen))
	}
	return strings.Join(diffs, "\n")
}

// compareItem compares one item of both trees.
func compareItem(a, b string) string {
	ia, err := os.Lstat(a)
	if err != nil {
		return err.Error()
	}
	ib, err := os.Lstat(b)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing on server"
	} else if err != nil {
		return err.Error()
	}
	if ia.Mode() != ib.Mode() {
		return fmt.Sprintf("mode %v, want %v", ib.Mode(), ia.Mode())
	}
	if ia.Mode()&fs.ModeSymlink == 0 && !ia.ModTime().Equal(ib.ModTime()) {
		return fmt.Sprintf("mtime %v, want %v", ib.ModTime(), ia.ModTime())
	}
	if !ia.Mode().IsRegular() {
		return ""
	}
	ca, err := os.ReadFile(a)
	if err != nil {
		return err.Error()
	}
	cb, err := os.ReadFile(b)
	if err != nil {
		return err.Error()
	}
	if !bytes.Equal(ca, cb) {
		return "content differs"
	}
	return ""
}

// requireSameTree fails the test unless got mirrors want.
func requireSameTree(t *testing.T, want, got string) {
	t.Helper()
	if d := sameTree(want, got); d != "" {
		t.Fatalf("trees differ:\n%s", d)
	}
}

// waitSameTree polls until got mirrors want, or fails after timeout.
func waitSameTree(t *testing.T, want, got string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := sameTree(want, got)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trees did not converge within %v:\n%s", timeout, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// procMiB returns a memory figure (VmRSS, VmHWM) of process pid in MiB.
func procMiB(t *testing.T, pid int, key string) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("%s of %d: %q", key, pid, l)
			}
			return float64(kb) / 1024
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// cpuTicks returns the user plus system CPU time of process pid, in clock
// ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// the last parenthesis, where field 3 (state) starts.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return utime + stime
}

// inotifyWatches counts the inotify watches process pid holds, from the
// fdinfo of its inotify descriptors.
func inotifyWatches(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil || link != "anon_inode:inotify" {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		if err != nil {
			t.Fatal(err)
		}
		n += strings.Count(string(info), "inotify wd:")
	}
	return n
}
