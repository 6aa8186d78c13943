package statuspage

import (
	"fmt"
	"html/template"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/chart"
	"github.com/dustin/go-humanize"
)

// stamp prints t in UTC and in Bilibili's UTC+8.
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 MST") + " (" + t.In(bilibiliZone).Format("15:04:05 MST") + ")"
}

// age prints how long before now ms was: "4s ago", "3m ago", "2h ago";
// "—" for 0 (never).
func age(ms int64, now time.Time) string {
	if ms == 0 {
		return "—"
	}
	d := now.Sub(time.UnixMilli(ms))
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
}

func when(ms int64) string {
	if ms == 0 {
		return ""
	}
	return stamp(time.UnixMilli(ms))
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

func floats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// coverageText is a room's coverage as the table shows it: the estimate
// with its 95 % interval, or why there is none.
func coverageText(r collector.RoomStatus) (text, title string) {
	title = fmt.Sprintf("%d of %d judged history danmaku arrived; connected %s of the time wanted", r.Arrived, r.Judged, pct(r.ConnectedShare))
	if r.Coverage == nil {
		return fmt.Sprintf("too few items (%d)", r.Judged), title
	}
	return fmt.Sprintf("%s (%s–%s)", pct(*r.Coverage), pct(r.CoverageLow), pct(r.CoverageHigh)), title
}

// rowOf formats one room for the table at now.
func rowOf(r collector.RoomStatus, now time.Time) rowView {
	v := rowView{RoomStatus: r, Share: pct(r.ConnectedShare), EPM: strconv.FormatFloat(r.EventsPerMin, 'f', 1, 64),
		Events: humanize.Comma(r.Events), LastEvent: age(r.LastEventMs, now), LastEventAt: when(r.LastEventMs),
		ErrorAge: age(r.LastErrorMs, now), ErrorAt: when(r.LastErrorMs)}
	v.Cover, v.CoverTitle = coverageText(r)
	v.Spark = template.HTML(chart.Sparkline(floats(r.PerMinute), 120, 22, "events per minute, last hour")) // chart escapes its text
	return v
}
