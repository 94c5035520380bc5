package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteChart(t *testing.T) {
	dir := t.TempDir()
	results := []scenarioResult{
		{scenario: scenario{Name: "S1"}, WallRatio: 2.5, WireRatio: 1.02},
		{scenario: scenario{Name: "S2"}, WallRatio: 0.8, WireRatio: math.NaN()},
	}
	if err := writeChart(dir, results); err != nil {
		t.Fatalf("writeChart: %v", err)
	}
	for _, name := range []string{"ratios.svg", "ratios.png"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v, size %v", name, err, fi)
		}
	}
}
