package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// writeChart draws ratios.svg and ratios.png into dir: per scenario, dirsync's median
// wall time and wire bytes as a multiple of rsync's, with a line at 1.
func writeChart(dir string, results []scenarioResult) error {
	p := plot.New()
	p.Title.Text = "dirsync / rsync (below 1: dirsync better)"
	p.Y.Label.Text = "ratio (median dirsync / median rsync)"
	wall := make(plotter.Values, len(results))
	wire := make(plotter.Values, len(results))
	names := make([]string, len(results))
	top := 1.0
	for i, s := range results {
		names[i] = s.Name
		wall[i], wire[i] = chartValue(s.WallRatio), chartValue(s.WireRatio)
		top = max(top, wall[i], wire[i])
	}
	w := vg.Points(14)
	wallBars, err := plotter.NewBarChart(wall, w)
	if err != nil {
		return fmt.Errorf("wall-time bars: %w", err)
	}
	wallBars.Color = color.RGBA{R: 0x3b, G: 0x6e, B: 0xc4, A: 0xff}
	wallBars.Offset = -w / 2
	wireBars, err := plotter.NewBarChart(wire, w)
	if err != nil {
		return fmt.Errorf("wire-bytes bars: %w", err)
	}
	wireBars.Color = color.RGBA{R: 0xe0, G: 0x8a, B: 0x2c, A: 0xff}
	wireBars.Offset = w / 2
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(results)) - 0.5, Y: 1}})
	if err != nil {
		return fmt.Errorf("parity line: %w", err)
	}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(wallBars, wireBars, one, plotter.NewGrid())
	p.Legend.Add("wall time", wallBars)
	p.Legend.Add("bytes on the wire", wireBars)
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, top*1.15
	for _, name := range []string{"ratios.svg", "ratios.png"} {
		if err := p.Save(8*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("save %s: %w", name, err)
		}
	}
	return nil
}

// chartValue maps a missing ratio to 0 so the bar is simply absent.
func chartValue(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
