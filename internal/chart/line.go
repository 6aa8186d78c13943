package chart

import (
	"fmt"
	"strings"
	"time"
)

// Point is one (x, y) of a series; x in the caller's unit (e.g. unix
// seconds), y in the chart's.
type Point struct{ X, Y float64 }

// Series is one named line.
type Series struct {
	Name   string
	Points []Point // in x order
}

// Band is a shaded range of x (e.g. a gap in the collection).
type Band struct {
	From, To float64
	Label    string // its tooltip
}

// Line is a line chart: series over a shared x range, y from 0, with
// axes, ticks, a legend when there are several series, and shaded bands
// drawn behind the lines.
type Line struct {
	Title         string // the accessible name and tooltip
	Width, Height int    // pixels; default 720×220
	Series        []Series
	Bands         []Band
	XTicks        []Tick               // labelled x positions (e.g. TimeTicks); none = no labels
	YFormat       func(float64) string // y tick labels; default Short
	YLabel        string               // the y unit, drawn at the top left
	Step          bool                 // draw steps (a count that holds until the next point)
}

// chart area margins, pixels.
const (
	marginLeft, marginRight, marginTop, marginBottom = 48, 14, 24, 26
)

// dotsUpTo: a series with at most this many points has each marked.
const dotsUpTo = 40

// frame is a line chart's drawing area: pixel size and the mappings
// from data to pixels.
type frame struct {
	w, h, pw, ph float64
	px, py       func(float64) float64
}

// SVG draws the chart.
func (l Line) SVG() string {
	w, h := l.Width, l.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 220
	}
	legend := 0
	if len(l.Series) > 1 {
		legend = 16 * ((len(l.Series) + 4) / 5)
	}
	var b strings.Builder
	svgOpen(&b, w, h+legend, l.Title, "chart line")
	f, yt := l.frame(w, h)
	l.axes(&b, f, yt)
	for i, s := range l.Series {
		if len(s.Points) == 0 {
			continue
		}
		var pts strings.Builder
		for j, p := range s.Points {
			if l.Step && j > 0 {
				fmt.Fprintf(&pts, "%s,%s ", num(f.px(p.X)), num(f.py(s.Points[j-1].Y)))
			}
			fmt.Fprintf(&pts, "%s,%s ", num(f.px(p.X)), num(f.py(p.Y)))
		}
		color := Palette[i%len(Palette)]
		fmt.Fprintf(&b, `<polyline class="series" points="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></polyline>`,
			strings.TrimSpace(pts.String()), color, esc(s.Name))
		if len(s.Points) <= dotsUpTo { // few points: mark each, so that one alone shows
			for _, p := range s.Points {
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, num(f.px(p.X)), num(f.py(p.Y)), color)
			}
		}
	}
	if legend > 0 {
		for i, s := range l.Series {
			x, y := marginLeft+(i%5)*((w-marginLeft)/5), h+12+16*(i/5)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11" fill="#333">%s</text>`,
				x, y-9, Palette[i%len(Palette)], x+14, y, esc(s.Name))
		}
	}
	b.WriteString("</svg>")
	return b.String()
}

// frame fits the series and ticks into a w×h chart: x over every point
// and tick, y from 0 to the round tick above the largest value (the y
// ticks, returned).
func (l Line) frame(w, h int) (frame, []Tick) {
	x0, x1, ymax := 0.0, 0.0, 0.0
	first := true
	see := func(x float64) {
		if first {
			x0, x1, first = x, x, false
		}
		x0, x1 = min(x0, x), max(x1, x)
	}
	for _, s := range l.Series {
		for _, p := range s.Points {
			see(p.X)
			ymax = max(ymax, clean(p.Y))
		}
	}
	for _, t := range l.XTicks {
		see(t.At)
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	yt := NiceTicks(0, max(ymax, 1), 4, l.YFormat)
	ytop := yt[len(yt)-1].At
	f := frame{w: float64(w), h: float64(h), pw: float64(w - marginLeft - marginRight), ph: float64(h - marginTop - marginBottom)}
	f.px = func(x float64) float64 { return marginLeft + (x-x0)/(x1-x0)*f.pw }
	f.py = func(y float64) float64 { return marginTop + f.ph - clean(y)/ytop*f.ph }
	return f, yt
}

// axes draws the bands, the grid, the ticks and the y unit.
func (l Line) axes(b *strings.Builder, f frame, yt []Tick) {
	right, bottom := f.w-marginRight, marginTop+f.ph
	for _, band := range l.Bands {
		a, c := max(f.px(band.From), marginLeft), min(f.px(band.To), right)
		if c <= a {
			continue
		}
		fmt.Fprintf(b, `<rect class="band" x="%s" y="%d" width="%s" height="%s" fill="#c44e52" fill-opacity="0.13"><title>%s</title></rect>`,
			num(a), marginTop, num(c-a), num(f.ph), esc(band.Label))
	}
	for _, t := range yt {
		y := f.py(t.At)
		fmt.Fprintf(b, `<line x1="%d" x2="%s" y1="%s" y2="%s" stroke="#ddd" stroke-width="1"/>`, marginLeft, num(right), num(y), num(y))
		fmt.Fprintf(b, `<text x="%d" y="%s" text-anchor="end" font-size="10" fill="#555">%s</text>`, marginLeft-4, num(y+3), esc(t.Label))
	}
	for _, t := range l.XTicks {
		x := f.px(t.At)
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#999"/>`, num(x), num(x), num(bottom), num(bottom+4))
		anchor := "middle"
		if x > right-12 { // the last label stays inside
			anchor = "end"
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" font-size="10" fill="#555">%s</text>`, num(x), num(bottom+15), anchor, esc(t.Label))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%s" y1="%s" y2="%s" stroke="#999"/>`, marginLeft, num(right), num(bottom), num(bottom))
	if l.YLabel != "" {
		fmt.Fprintf(b, `<text x="4" y="11" font-size="10" fill="#555">%s</text>`, esc(l.YLabel))
	}
}

// timeSteps are the tick spacings TimeTicks chooses from.
var timeSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	2 * 24 * time.Hour, 7 * 24 * time.Hour}

// TimeTicks returns about n ticks between from and to (x = unix
// seconds), on round times of loc, labelled "15:04" within one day and
// "01-02 15:04" (or "01-02" at midnight steps) beyond.
func TimeTicks(from, to time.Time, loc *time.Location, n int) []Tick {
	if !to.After(from) || n < 1 {
		return nil
	}
	span := to.Sub(from)
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= time.Duration(n) {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step >= 24*time.Hour:
		layout = "01-02"
	case span > 24*time.Hour:
		layout = "01-02 15:04"
	}
	// Round up from `from` in loc's wall clock.
	lf := from.In(loc)
	_, offset := lf.Zone()
	off := time.Duration(offset) * time.Second
	t := from.Add(off).Truncate(step).Add(-off)
	if t.Before(from) {
		t = t.Add(step)
	}
	var out []Tick
	for ; !t.After(to); t = t.Add(step) {
		out = append(out, Tick{At: float64(t.Unix()), Label: t.In(loc).Format(layout)})
	}
	return out
}
