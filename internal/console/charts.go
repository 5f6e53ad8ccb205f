package console

import (
	"fmt"
	"math"

	"github.com/imagequota/imagequota/internal/quota"
)

// The charts are SVG drawn by the server: the geometry is worked out here
// and the templates only place it. Colours come from the stylesheet, by
// class, so that no style is inline.

// meter is a count against its limit, as a bar.
type meter struct {
	Count, Max int
	// Width is the bar's share of its track, 0-100.
	Width string
	// Level is ok, near (NearPercent or more), at (the limit) or over.
	Level string
	Pct   string
}

func newMeter(count, max int) meter {
	u := quota.Utilization(count, max)
	m := meter{Count: count, Max: max, Level: level(count, max)}
	m.Width = num(math.Min(u, 1) * 100)
	switch {
	case math.IsInf(u, 1):
		m.Pct = "∞"
	default:
		m.Pct = fmt.Sprintf("%.0f%%", u*100)
	}
	return m
}

// level classes a count against its limit.
func level(count, max int) string {
	switch {
	case count > max:
		return "over"
	case count == max && count > 0 || max == 0:
		return "at"
	case count*100 >= max*NearPercent:
		return "near"
	}
	return "ok"
}

// chart is a horizontal bar chart: one row per item, each row's bar made of
// segments.
type chart struct {
	Title  string
	Width  int
	Height int
	// BarX and BarW place every row's track.
	BarX, BarW, BarH int
	Rows             []chartRow
	Legend           []legend
}

type chartRow struct {
	Label  string
	Href   string
	Y      int // the bar's top
	TextY  int
	Segs   []seg
	Value  string
	ValueX string
	Title  string
}

type seg struct {
	X, W  string
	Class string
	Title string
}

type legend struct{ Class, Label string }

// Chart geometry, in the SVG's own units (it scales to its box).
const (
	chartWidth  = 520
	chartLabelW = 125
	chartValueW = 95
	chartRowH   = 24
	chartBarH   = 14
)

// barItem is one row of a chart: its label, and its segments' values.
type barItem struct {
	Label, Href, Title string
	Values             []int
	Value              string
}

// newChart lays items out, their segments classed by classes, scaled so
// that the largest total fills the track.
func newChart(title string, items []barItem, classes []string, legends []legend) chart {
	c := chart{Title: title, Width: chartWidth, BarX: chartLabelW, BarW: chartWidth - chartLabelW - chartValueW, BarH: chartBarH, Legend: legends}
	top := 0
	for _, it := range items {
		t := 0
		for _, v := range it.Values {
			t += v
		}
		top = max(top, t)
	}
	for i, it := range items {
		row := chartRow{Label: it.Label, Href: it.Href, Title: it.Title, Y: i*chartRowH + (chartRowH-chartBarH)/2, TextY: i*chartRowH + chartRowH/2 + 5, Value: it.Value}
		x := float64(c.BarX)
		for k, v := range it.Values {
			if v <= 0 || top == 0 {
				continue
			}
			w := float64(v) / float64(top) * float64(c.BarW)
			row.Segs = append(row.Segs, seg{X: num(x), W: num(w), Class: classes[k%len(classes)]})
			x += w
		}
		row.ValueX = num(x + 6)
		c.Rows = append(c.Rows, row)
	}
	c.Height = max(len(items)*chartRowH, chartRowH)
	return c
}

// num writes a coordinate.
func num(f float64) string { return fmt.Sprintf("%.1f", f) }
