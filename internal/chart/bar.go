package chart

import (
	"fmt"
	"strings"
)

// Bar is a bar chart: one bar per label, from 0. Vertical bars suit a few
// dozen categories (hours of a day); Horizontal bars suit long labels
// (room titles) and are one row each.
type Bar struct {
	Title         string
	Width, Height int // pixels; default 720×220 (Horizontal: the height follows the rows)
	Labels        []string
	Values        []float64
	Horizontal    bool
	Format        func(float64) string // value labels and ticks; default Short
	Color         string               // default Palette[0]
}

// SVG draws the chart.
func (c Bar) SVG() string {
	if c.Format == nil {
		c.Format = Short
	}
	if c.Color == "" {
		c.Color = Palette[0]
	}
	if c.Width <= 0 {
		c.Width = 720
	}
	peak := 0.0
	for _, v := range c.Values {
		peak = max(peak, clean(v))
	}
	if c.Horizontal {
		return c.horizontal(peak)
	}
	return c.vertical(peak)
}

func (c Bar) vertical(peak float64) string {
	w, h := c.Width, c.Height
	if h <= 0 {
		h = 220
	}
	var b strings.Builder
	svgOpen(&b, w, h, c.Title, "chart bar")
	yt := NiceTicks(0, max(peak, 1), 4, c.Format)
	ytop := yt[len(yt)-1].At
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)
	py := func(y float64) float64 { return marginTop + ph - clean(y)/ytop*ph }
	for _, t := range yt {
		y := py(t.At)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#ddd"/>`, marginLeft, w-marginRight, num(y), num(y))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" font-size="10" fill="#555">%s</text>`, marginLeft-4, num(y+3), esc(t.Label))
	}
	n := max(len(c.Values), 1)
	slot := pw / float64(n)
	every := 1 + len(c.Labels)*28/int(max(pw, 1)) // thin the labels when they would overlap
	for i, v := range c.Values {
		x, y := marginLeft+float64(i)*slot, py(v)
		label := ""
		if i < len(c.Labels) {
			label = c.Labels[i]
		}
		fmt.Fprintf(&b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>`,
			num(x+slot*0.1), num(y), num(slot*0.8), num(marginTop+ph-y), c.Color, esc(label), esc(c.Format(v)))
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="10" fill="#555">%s</text>`, num(x+slot/2), num(marginTop+ph+14), esc(label))
		}
	}
	b.WriteString("</svg>")
	return b.String()
}

// rowHeight is a horizontal bar's row, pixels.
const rowHeight = 20

func (c Bar) horizontal(peak float64) string {
	labelW := c.Width * 2 / 5
	w, h := c.Width, max(len(c.Values), 1)*rowHeight+8
	var b strings.Builder
	svgOpen(&b, w, h, c.Title, "chart hbar")
	bw := float64(w - labelW - 110) // room for the value after the longest bar
	for i, v := range c.Values {
		y := 4 + i*rowHeight
		label := ""
		if i < len(c.Labels) {
			label = c.Labels[i]
		}
		width := 0.0
		if peak > 0 {
			width = clean(v) / peak * bw
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11" fill="#333">%s</text>`, labelW-6, y+13, esc(clip(label, 40)))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%s" height="%d" fill="%s"><title>%s: %s</title></rect>`,
			labelW, y+2, num(width), rowHeight-6, c.Color, esc(label), esc(c.Format(v)))
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" fill="#333">%s</text>`, num(float64(labelW)+width+4), y+13, esc(c.Format(v)))
	}
	b.WriteString("</svg>")
	return b.String()
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Estimate is one labelled estimate with its interval (Lo ≤ Value ≤ Hi);
// Missing draws the label with Note instead (no estimate).
type Estimate struct {
	Label         string
	Value, Lo, Hi float64
	Missing       bool
	Note          string // shown instead of a value when Missing
}

// Estimates draws one row per estimate on a shared 0–Max scale: a line
// from Lo to Hi and a dot at Value, with the value printed (Format).
type Estimates struct {
	Title  string
	Width  int     // pixels; default 720
	Max    float64 // the scale's end; default 1
	Items  []Estimate
	Format func(float64) string // default a percentage
}

// SVG draws the chart.
func (c Estimates) SVG() string {
	if c.Width <= 0 {
		c.Width = 720
	}
	if c.Max <= 0 {
		c.Max = 1
	}
	if c.Format == nil {
		c.Format = func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }
	}
	labelW := c.Width * 2 / 5
	w, h := c.Width, (len(c.Items)+1)*rowHeight+8
	sw := float64(w - labelW - 110)
	px := func(v float64) float64 { return float64(labelW) + min(max(clean(v), 0), c.Max)/c.Max*sw }
	var b strings.Builder
	svgOpen(&b, w, h, c.Title, "chart estimates")
	for _, t := range NiceTicks(0, c.Max, 4, c.Format) {
		if t.At > c.Max {
			break
		}
		x := px(t.At)
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="4" y2="%d" stroke="#e4e4e4"/>`, num(x), num(x), h-rowHeight)
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" font-size="10" fill="#555">%s</text>`, num(x), h-6, esc(t.Label))
	}
	for i, it := range c.Items {
		y := 4 + i*rowHeight
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11" fill="#333">%s</text>`, labelW-6, y+13, esc(clip(it.Label, 40)))
		if it.Missing {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#888">%s</text>`, labelW, y+13, esc(it.Note))
			continue
		}
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`, num(px(it.Lo)), num(px(it.Hi)), y+9, y+9, Palette[0])
		fmt.Fprintf(&b, `<circle cx="%s" cy="%d" r="3.5" fill="%s"><title>%s: %s (%s–%s)</title></circle>`,
			num(px(it.Value)), y+9, Palette[1], esc(it.Label), esc(c.Format(it.Value)), esc(c.Format(it.Lo)), esc(c.Format(it.Hi)))
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" fill="#333">%s (%s–%s)</text>`,
			num(float64(labelW)+sw+6), y+13, esc(c.Format(it.Value)), esc(c.Format(it.Lo)), esc(c.Format(it.Hi)))
	}
	b.WriteString("</svg>")
	return b.String()
}
