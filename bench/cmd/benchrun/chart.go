package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"mapgate/bench"
)

// chartLine is one client's good-key series on a chart.
type chartLine struct {
	Name   string
	Series []bench.Second
}

// chartSpec is the attack-profile chart: good-key success rate (top) and
// p99 latency (bottom) per second, one line per client, the flood window
// shaded.
type chartSpec struct {
	Title              string
	Lines              []chartLine
	FloodFrom, FloodTo time.Duration
}

var chartColors = []color.Color{
	color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, // green: mapgate
	color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}, // orange
	color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff}, // purple
	color.RGBA{R: 0xe7, G: 0x29, B: 0x8a, A: 0xff},
}

// writeChart draws spec as a PNG file at path.
func writeChart(path string, spec chartSpec) error {
	rate := plot.New()
	rate.Title.Text = spec.Title
	rate.Y.Label.Text = "good keys answered correctly (%)"
	rate.Y.Min, rate.Y.Max = 0, 105
	lat := plot.New()
	lat.X.Label.Text = "seconds since start"
	lat.Y.Label.Text = "good-key p99 latency, any reply (ms, log)"
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}

	type lineXY struct{ rate, lat plotter.XYs }
	xy := make([]lineXY, len(spec.Lines))
	maxT, maxLat := 1.0, 1.0
	for i, l := range spec.Lines {
		for t, s := range l.Series {
			if s.Total() == 0 {
				continue
			}
			x := float64(t) + 0.5
			xy[i].rate = append(xy[i].rate, plotter.XY{X: x, Y: 100 * s.SuccessRate()})
			if s.Latency.Count() > 0 {
				ms := max(float64(s.Latency.Quantile(0.99))/float64(time.Millisecond), 0.01)
				xy[i].lat = append(xy[i].lat, plotter.XY{X: x, Y: ms})
				maxLat = max(maxLat, ms)
			}
			maxT = max(maxT, x+0.5)
		}
	}
	lat.Y.Min, lat.Y.Max = 0.01, maxLat*2
	for _, p := range []*plot.Plot{rate, lat} {
		p.X.Min, p.X.Max = 0, maxT
		if spec.FloodTo > spec.FloodFrom {
			shadeFlood(p, spec.FloodFrom.Seconds(), spec.FloodTo.Seconds())
		}
		p.Add(plotter.NewGrid())
	}
	if spec.FloodTo > spec.FloodFrom {
		rate.Add(labelAt(spec.FloodFrom.Seconds()+0.2, 101,
			fmt.Sprintf("10:1 flood of unrepresentable keys, %.0f s to %.0f s", spec.FloodFrom.Seconds(), spec.FloodTo.Seconds())))
	}
	for i, l := range spec.Lines {
		c := chartColors[i%len(chartColors)]
		for _, d := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{rate, xy[i].rate}, {lat, xy[i].lat}} {
			if len(d.xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(d.xys)
			if err != nil {
				return err
			}
			line.Color, line.Width = c, vg.Points(1.5)
			points.Color, points.Shape, points.Radius = c, draw.CircleGlyph{}, vg.Points(1.5)
			d.p.Add(line, points)
			if d.p == rate {
				d.p.Legend.Add(l.Name, line)
			}
		}
	}
	rate.Legend.Top, rate.Legend.Left = false, true
	rate.Legend.Padding = vg.Points(3)

	const w, h = 10 * vg.Inch, 8 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{rate}, {lat}}, tiles, dc)
	rate.Draw(canvases[0][0])
	lat.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shadeFlood adds a grey band over [from, to] to p.
func shadeFlood(p *plot.Plot, from, to float64) {
	lo, hi := p.Y.Min, p.Y.Max
	poly, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: lo}, {X: to, Y: lo}, {X: to, Y: hi}, {X: from, Y: hi}})
	if err != nil {
		return
	}
	poly.Color = color.RGBA{R: 0xee, G: 0xdd, B: 0xdd, A: 0xff}
	poly.LineStyle.Width = 0
	p.Add(poly)
}

func labelAt(x, y float64, text string) plot.Plotter {
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: y}}, Labels: []string{text}})
	if err != nil {
		return plotter.NewGrid()
	}
	return l
}
