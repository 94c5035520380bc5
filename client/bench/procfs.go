package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// readVmHWM returns the peak resident set size of pid in KiB, from the
// VmHWM line of /proc/PID/status.
func readVmHWM(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM of %d: %w", pid, err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for %d", pid)
}

// procStat is the part of /proc/PID/stat the harness uses.
type procStat struct {
	ppid         int
	utime, stime int64 // clock ticks
}

// readProcStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed stat of %d", pid)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("short stat of %d", pid)
	}
	var s procStat
	if s.ppid, err = strconv.Atoi(f[1]); err != nil {
		return s, fmt.Errorf("parse ppid of %d: %w", pid, err)
	}
	if s.utime, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return s, fmt.Errorf("parse utime of %d: %w", pid, err)
	}
	if s.stime, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return s, fmt.Errorf("parse stime of %d: %w", pid, err)
	}
	return s, nil
}

// cpuSeconds returns the user plus system CPU time pid has used so far.
func cpuSeconds(pid int) (float64, error) {
	s, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(s.utime+s.stime) / clockTicks, nil
}

// descendants lists every live process below pid. It reads the children
// files of the tree's threads (/proc/PID/task/TID/children): a few small
// reads per process of the tree. Scanning every /proc/N/stat for parents
// instead, 70 times a second for the two samplers of a run, took 30% of
// the machine's CPU samples while dirsync ran (perf record -a), CPU that
// dirsync, which keeps both cores busy, lost and rsync, with a core to
// spare, did not. A kernel without the children files gets the scan.
func descendants(pid int) []int {
	if !childrenFilesWork() {
		return walkTree(pid, scanChildren())
	}
	return walkTree(pid, childrenOf)
}

// walkTree lists every process below pid, breadth first, with children
// giving each process's children.
func walkTree(pid int, children func(pid int) []int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids := children(queue[0])
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

// childrenFilesWork reports whether /proc has the children files of
// threads (CONFIG_PROC_CHILDREN), by looking for the harness's own.
var childrenFilesWork = sync.OnceValue(func() bool {
	pid := os.Getpid()
	_, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	return err == nil
})

// childrenOf lists the children of pid, none if it has ended.
func childrenOf(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil // ended meanwhile
	}
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			if id, err := strconv.Atoi(f); err == nil {
				kids = append(kids, id)
			}
		}
	}
	return kids
}

// scanChildren scans every /proc/N/stat once and returns a lookup of each
// process's children, as they were then.
func scanChildren() func(pid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat") // the pattern is valid
	children := make(map[int][]int)
	for _, p := range paths {
		id, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		s, err := readProcStat(id)
		if err != nil {
			continue // the process ended meanwhile
		}
		children[s.ppid] = append(children[s.ppid], id)
	}
	return func(pid int) []int { return children[pid] }
}

// treeHWMSampler samples the VmHWM of the processes of a tree every
// interval, keeping each process's highest value. It measures the rsync
// daemon's per-connection processes, which are not the harness's children
// and so have no rusage it can collect, and the clients, whose ru_maxrss is
// useless: Go starts children with vfork, and Linux carries the parent's
// peak RSS into the child's ru_maxrss at exec. A process that lives less
// than one interval may be missed, and growth after the last sample is not
// seen.
type treeHWMSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak map[int]int64
}

// sampleTreeHWM starts sampling the descendants of pid, and pid itself with
// self set.
func sampleTreeHWM(pid int, self bool, interval time.Duration) *treeHWMSampler {
	s := &treeHWMSampler{stop: make(chan struct{}), done: make(chan struct{}), peak: make(map[int]int64)}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if self {
				s.record(pid)
			}
			s.sample(pid)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *treeHWMSampler) sample(pid int) {
	for _, id := range descendants(pid) {
		s.record(id)
	}
}

// record samples one process; one that has ended is skipped.
func (s *treeHWMSampler) record(pid int) {
	kib, err := readVmHWM(pid)
	if err != nil || kib == 0 {
		return // ended meanwhile, or a zombie
	}
	s.mu.Lock()
	s.peak[pid] = max(s.peak[pid], kib)
	s.mu.Unlock()
}

// Stop ends the sampling and returns the sum of the peaks in KiB and how
// many processes were seen.
func (s *treeHWMSampler) Stop() (sumKiB int64, processes int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kib := range s.peak {
		sumKiB += kib
	}
	return sumKiB, len(s.peak)
}
