package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine names the hardware and software a benchmark ran on.
type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Rsync     string `json:"rsync_version"`
	Date      string `json:"date"`
}

// describeMachine gathers the machine description; fields it cannot read
// are "unknown".
func describeMachine(rsync string) machine {
	m := machine{CPU: "unknown", Kernel: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Rsync: rsync, Date: time.Now().UTC().Format(time.RFC3339)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}
