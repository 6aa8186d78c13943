// Package chart draws small charts as inline SVG strings, for the status
// page and the HTML report: a sparkline, a line chart (several series,
// shaded bands), a bar chart and a chart of estimates with their
// intervals. It draws with plain SVG elements and no fonts or scripts of
// its own; the text is in the page's font.
//
// The SVG is for embedding in an HTML page: it carries no XML namespace
// declaration (HTML gives an inline svg its namespace). Every text a
// caller passes in (titles, labels, series names) is escaped here, so the
// returned string may be embedded in HTML as is (it is safe to convert
// to html/template.HTML). Numbers are drawn as given: NaN and infinities
// are treated as 0. All functions are pure and safe for concurrent use.
package chart

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Palette is the colours of series and bars, in order.
var Palette = []string{"#3b6fb6", "#e07b39", "#4a9b5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"}

// Tick is one labelled position on an axis.
type Tick struct {
	At    float64
	Label string
}

// esc escapes text for SVG inside HTML.
func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate with at most one decimal.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// clean maps NaN and infinities to 0.
func clean(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// NiceTicks returns about n evenly spaced round values (1, 2 or 5 times a
// power of ten apart) from 0 or lo up to at least hi, labelled with
// format (nil: a short number).
func NiceTicks(lo, hi float64, n int, format func(float64) string) []Tick {
	lo, hi = clean(lo), clean(hi)
	if n < 1 {
		n = 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*0.8 { // the nearest round step, allowing a few more ticks
			step = m * mag
			break
		}
	}
	if format == nil {
		format = Short
	}
	var out []Tick
	start := math.Floor(lo/step) * step
	for v := start; v < hi+step*0.999; v += step {
		out = append(out, Tick{At: v, Label: format(v)})
		if len(out) > 4*n+2 { // float trouble: never loop long
			break
		}
	}
	return out
}

// Short formats a number compactly: 950, 1.2k, 3.4M.
func Short(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// svgOpen starts an SVG element of w×h with an accessible title.
func svgOpen(b *strings.Builder, w, h int, title, class string) {
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" class="%s">`, w, h, w, h, esc(class))
	if title != "" {
		b.WriteString("<title>" + esc(title) + "</title>")
	}
}

// Sparkline draws values (oldest first) as a w×h line from 0 up to the
// largest value, with the area under it lightly filled. title is its
// tooltip and accessible name. No values gives an empty box.
func Sparkline(values []float64, w, h int, title string) string {
	var b strings.Builder
	svgOpen(&b, w, h, title, "spark")
	peak := 0.0
	for _, v := range values {
		peak = max(peak, clean(v))
	}
	if len(values) > 0 {
		dx := float64(w-2) / float64(max(len(values)-1, 1))
		y := func(v float64) float64 {
			if peak == 0 {
				return float64(h - 1)
			}
			return float64(h-1) - clean(v)/peak*float64(h-2)
		}
		var pts strings.Builder
		for i, v := range values {
			fmt.Fprintf(&pts, "%s,%s ", num(1+float64(i)*dx), num(y(v)))
		}
		p := strings.TrimSpace(pts.String())
		fmt.Fprintf(&b, `<polygon points="1,%d %s %s,%d" fill="%s" fill-opacity="0.15" stroke="none"/>`, h-1, p, num(1+float64(len(values)-1)*dx), h-1, Palette[0])
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.2"/>`, p, Palette[0])
	}
	b.WriteString("</svg>")
	return b.String()
}
