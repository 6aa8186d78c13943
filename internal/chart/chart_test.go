package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// wellFormed fails the test unless s is one well-formed XML element.
func wellFormed(t *testing.T, what, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	depth, elems := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed SVG: %v\n%s", what, err, s)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			elems++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || elems == 0 || !strings.HasPrefix(s, "<svg") {
		t.Fatalf("%s: depth %d, %d elements:\n%s", what, depth, elems, s)
	}
}

// TestEscapesText: every text a caller passes (titles, labels, series
// names) reaches the SVG escaped; no element of the caller's survives.
func TestEscapesText(t *testing.T) {
	evil := `<script>alert(1)</script>&"'`
	charts := map[string]string{
		"sparkline": Sparkline([]float64{1, 2, 3}, 60, 16, evil),
		"line": Line{Title: evil, YLabel: evil, Series: []Series{{Name: evil, Points: []Point{{0, 1}, {1, 2}}}, {Name: "b"}},
			Bands: []Band{{From: 0.2, To: 0.4, Label: evil}}, XTicks: []Tick{{At: 0, Label: evil}}}.SVG(),
		"bar":       Bar{Title: evil, Labels: []string{evil, "x"}, Values: []float64{1, 2}}.SVG(),
		"hbar":      Bar{Title: evil, Labels: []string{evil}, Values: []float64{3}, Horizontal: true}.SVG(),
		"estimates": Estimates{Title: evil, Items: []Estimate{{Label: evil, Value: 0.5, Lo: 0.4, Hi: 0.6}, {Label: evil, Missing: true, Note: evil}}}.SVG(),
	}
	for name, s := range charts {
		wellFormed(t, name, s)
		if strings.Contains(s, "<script") || strings.Contains(s, `"'`) {
			t.Errorf("%s: caller's text not escaped:\n%s", name, s)
		}
		if !strings.Contains(s, "&lt;script&gt;") {
			t.Errorf("%s: the escaped text is missing:\n%s", name, s)
		}
	}
}

// TestSparklineScale: the line spans the box, the largest value touches
// the top and zeros lie on the bottom; NaN counts as 0.
func TestSparklineScale(t *testing.T) {
	s := Sparkline([]float64{0, 5, 10, math.NaN()}, 62, 20, "x")
	wellFormed(t, "sparkline", s)
	if !strings.Contains(s, `points="1,19 21,10 41,1 61,19"`) {
		t.Errorf("unexpected points:\n%s", s)
	}
	if e := Sparkline(nil, 60, 16, "none"); strings.Contains(e, "polyline") {
		t.Errorf("no values drew a line: %s", e)
	}
}

// TestBarsAndSeriesCount: one rect per bar, one polyline per series.
func TestBarsAndSeriesCount(t *testing.T) {
	labels := make([]string, 24)
	vals := make([]float64, 24)
	for i := range vals {
		vals[i] = float64(i * i)
	}
	if n := strings.Count(Bar{Labels: labels, Values: vals}.SVG(), `class="bar"`); n != 24 {
		t.Errorf("%d bars, want 24", n)
	}
	l := Line{Series: []Series{{Name: "a", Points: []Point{{0, 1}, {2, 3}}}, {Name: "b", Points: []Point{{1, 1}}}, {Name: "c"}}}
	if n := strings.Count(l.SVG(), `class="series"`); n != 2 {
		t.Errorf("%d series drawn, want 2 (one has no points)", n)
	}
}

// TestNiceTicks: round steps that cover the range.
func TestNiceTicks(t *testing.T) {
	ticks := NiceTicks(0, 87, 4, nil)
	var got []string
	for _, tk := range ticks {
		got = append(got, tk.Label)
	}
	if strings.Join(got, " ") != "0 20 40 60 80 100" {
		t.Errorf("ticks %v", got)
	}
	if Short(1234) != "1.2k" || Short(5e6) != "5M" || Short(12) != "12" {
		t.Errorf("Short: %s %s %s", Short(1234), Short(5e6), Short(12))
	}
}

// TestTimeTicks: round times of the given zone, about n of them.
func TestTimeTicks(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	from := time.Date(2026, 11, 27, 3, 7, 0, 0, time.UTC)
	ticks := TimeTicks(from, from.Add(5*time.Hour), cst, 6)
	if len(ticks) < 4 || len(ticks) > 7 {
		t.Fatalf("%d ticks: %v", len(ticks), ticks)
	}
	if ticks[0].Label != "12:00" || ticks[1].Label != "13:00" {
		t.Errorf("ticks not on round hours of UTC+8: %v", ticks)
	}
	days := TimeTicks(from, from.Add(10*24*time.Hour), cst, 6)
	if len(days) < 3 {
		t.Fatalf("day ticks: %v", days)
	}
	for _, d := range days {
		at := time.Unix(int64(d.At), 0).In(cst)
		if at.Hour() != 0 || at.Minute() != 0 || d.Label != at.Format("01-02") {
			t.Errorf("day tick %v at %v: not a labelled midnight of UTC+8", d, at)
		}
	}
}
