package report

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/chart"
	"github.com/danmakud/danmakud/storage"
	"github.com/dustin/go-humanize"
)

//go:embed report.html.tmpl
var reportText string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"raw": func(v *float64) string { // a coverage as JSON would say it ("" for null)
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	},
}).Parse(reportText))

// Report limits: the rooms named in the charts and listed in the tables.
const (
	topRooms      = 20
	coverageRooms = 40
	tableRooms    = 2000
)

// minGap is the shortest stretch without any connection the report
// calls a gap.
const minGap = time.Minute

// svg marks a chart's SVG as safe HTML: package chart escapes every text
// it draws.
func svg(s string) template.HTML { return template.HTML(s) }

// cny formats an amount of yuan.
func cny(v float64) string { return "¥" + humanize.CommafWithDigits(v, 2) }

// roomRow is one room of the report's room table.
type roomRow struct {
	RoomID                             int64
	Title, Anchor, Area                string
	Danmaku, Gifts, SuperChats, Guards int64
	Revenue                            string
	Coverage                           *float64
	CoverageText, Interval             string
	Judged, Connections                int64
	Share                              string
}

// stat is one labelled figure with a data-stat key (what the tests read).
type stat struct {
	Key, Label, Value string
}

// reportView is what the template shows.
type reportView struct {
	Generated, From, To, Span          string
	Files                              []string
	Stats                              []stat
	Rows                               []stat
	Timeline, Hours, Top, Cover, Money template.HTML
	Identity                           template.HTML
	Kinds                              []template.HTML
	Gaps                               []string
	RunText                            []string
	Rooms                              []roomRow
	MoreRooms                          int
	Bucket                             string
	BagCNY, GiftCNY, SCCNY, GuardCNY   string
	AnonShare, SampledShare, FullShare string
	Unknown                            []storage.UnknownCmd
	Overall                            string
}

// WriteHTML writes the report of ds as one self-contained HTML page
// (inline CSS and SVG, no script, nothing fetched) to w. now is the
// report's time stamp.
func (ds *Dataset) WriteHTML(w io.Writer, now time.Time) error {
	v := ds.view(now)
	b := bufio.NewWriter(w)
	if err := reportTmpl.Execute(b, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return b.Flush()
}

// view builds everything the template shows.
func (ds *Dataset) view(now time.Time) reportView {
	s, a := ds.Summary, ds.Act
	v := reportView{Generated: stamp(now.UnixMilli()), Files: ds.Files, Overall: percent(s.OverallCoverage)}
	if s.FirstMs > 0 {
		v.From, v.To = stamp(s.FirstMs), stamp(s.LastMs)
		v.Span = (time.Duration(s.LastMs-s.FirstMs) * time.Millisecond).Round(time.Second).String()
	}
	v.Stats = []stat{{"runs", "runs", strconv.FormatInt(s.Runs, 10)}, {"rooms_seen", "rooms with connections", strconv.FormatInt(s.RoomsSeen, 10)},
		{"reconnects", "reconnects", strconv.FormatInt(s.Reconnects, 10)}, {"overall_coverage", "estimated coverage, all rooms", percent(s.OverallCoverage)},
		{"malformed", "undecodable messages kept", strconv.FormatInt(s.Malformed, 10)}}
	for _, t := range storage.Tables() {
		if n, ok := s.Rows[t.Name]; ok && t.Stats {
			v.Rows = append(v.Rows, stat{"rows." + t.Name, t.Name, strconv.FormatInt(n, 10)})
		}
	}
	v.Unknown = s.Unknown
	slices.SortFunc(v.Unknown, func(x, y storage.UnknownCmd) int { return int(y.Count - x.Count) })
	if len(v.Unknown) > 10 {
		v.Unknown = v.Unknown[:10]
	}
	for _, r := range a.Runs {
		v.RunText = append(v.RunText, fmt.Sprintf("run %d: %s to %s (%s), %s", r.ID, stamp(r.FromMs), stamp(r.ToMs),
			(time.Duration(r.ToMs-r.FromMs)*time.Millisecond).Round(time.Second), cmp.Or(r.Status, "not ended")))
	}
	if tr, ok := rangeOf(a); ok {
		ds.timeCharts(&v, tr)
	}
	ds.roomCharts(&v)
	ds.moneyChart(&v)
	ds.identityChart(&v)
	return v
}

// timeCharts draws the collection time line, the events per minute of
// each kind and the danmaku per hour of the Bilibili day.
func (ds *Dataset) timeCharts(v *reportView, tr timeRange) {
	a := ds.Act
	from, to := time.Unix(int64(tr.bucketStart(0)), 0), time.Unix(int64(tr.bucketStart(tr.buckets())), 0)
	ticks := chart.TimeTicks(from, to, bilibiliZone, 8)
	v.Bucket = (time.Duration(tr.step) * time.Minute).String()
	covered := tr.covered(a.Runs)
	avg, gaps := tr.connected(a.Spans, covered, minGap)
	line := chart.Line{Title: "rooms connected", YLabel: "rooms connected (average per " + v.Bucket + " of a run)", XTicks: ticks, Step: true}
	pts := make([]chart.Point, len(avg))
	for i, n := range avg {
		pts[i] = chart.Point{X: tr.bucketStart(i), Y: n}
	}
	line.Series = []chart.Series{{Name: "rooms connected", Points: pts}}
	for _, g := range gaps {
		label := fmt.Sprintf("no connection from %s to %s (%s)", stamp(g.from.UnixMilli()), stamp(g.to.UnixMilli()), g.to.Sub(g.from).Round(time.Second))
		line.Bands = append(line.Bands, chart.Band{From: float64(g.from.Unix()), To: float64(g.to.Unix()), Label: label})
		v.Gaps = append(v.Gaps, label)
	}
	v.Timeline = svg(line.SVG())
	for _, t := range storage.Tables() {
		m := a.PerMinute[t.Name]
		if len(m) == 0 {
			continue
		}
		counts := tr.perBucket(m)
		pts := make([]chart.Point, len(counts))
		for i, n := range counts {
			pts[i] = chart.Point{X: tr.bucketStart(i), Y: float64(n) / (covered[i] / 60000)} // per minute of collection
		}
		l := chart.Line{Title: t.Name + " per minute", YLabel: t.Name + " per minute", Width: 470, Height: 150,
			XTicks: chart.TimeTicks(from, to, bilibiliZone, 4), Series: []chart.Series{{Name: t.Name, Points: pts}}}
		v.Kinds = append(v.Kinds, svg(l.SVG()))
	}
	hours := bilibiliHours(a.PerMinute["danmaku"])
	bar := chart.Bar{Title: "danmaku per hour of the Bilibili day (UTC+8)", Labels: make([]string, 24), Values: make([]float64, 24)}
	for h, n := range hours {
		bar.Labels[h], bar.Values[h] = fmt.Sprintf("%02d", h), float64(n)
	}
	v.Hours = svg(bar.SVG())
}

// roomLabel names a room by its title (or id).
func (ds *Dataset) roomLabel(room int64) string {
	if ri, ok := ds.Act.Rooms[room]; ok && ri.Title != "" {
		return ri.Title + " (" + strconv.FormatInt(room, 10) + ")"
	}
	return "room " + strconv.FormatInt(room, 10)
}

// yuan is what m paid, in CNY.
func yuan(m storage.Money) float64 {
	return float64(m.GiftGold)/1000 + float64(m.SuperChat) + float64(m.GuardGold)/1000
}

// roomCharts draws the top rooms and the coverage per room, and lists
// every room.
func (ds *Dataset) roomCharts(v *reportView) {
	s, a := ds.Summary, ds.Act
	conns := map[int64]storage.RoomConnections{}
	ids := map[int64]bool{}
	for _, c := range s.Connections {
		conns[c.RoomID], ids[c.RoomID] = c, true
	}
	kinds := map[int64]map[string]int64{}
	for room, rs := range s.Rooms {
		id, _ := strconv.ParseInt(room, 10, 64)
		kinds[id], ids[id] = rs.Kinds, true
	}
	var order []int64
	for id := range ids {
		order = append(order, id)
	}
	slices.SortFunc(order, func(x, y int64) int {
		if d := kinds[y]["danmaku"] - kinds[x]["danmaku"]; d != 0 {
			return int(min(max(d, -1), 1))
		}
		return int(min(max(x-y, -1), 1))
	})
	top := chart.Bar{Title: "top rooms by danmaku", Horizontal: true}
	est := chart.Estimates{Title: "estimated coverage per room, with its 95 % interval"}
	for i, id := range order {
		k, c := kinds[id], conns[id]
		if i < topRooms {
			top.Labels, top.Values = append(top.Labels, ds.roomLabel(id)), append(top.Values, float64(k["danmaku"]))
		}
		lo, hi := 0.0, c.ConnectedShare
		if c.CoverageInterval != nil {
			lo, hi = c.CoverageInterval[0], c.CoverageInterval[1]
		}
		if len(est.Items) < coverageRooms && c.Connections > 0 {
			e := chart.Estimate{Label: ds.roomLabel(id), Lo: lo, Hi: hi, Missing: c.Coverage == nil,
				Note: fmt.Sprintf("too few items (%d judged)", c.HistSeen)}
			if c.Coverage != nil {
				e.Value = *c.Coverage
			}
			est.Items = append(est.Items, e)
		}
		if i >= tableRooms {
			v.MoreRooms++
			continue
		}
		ri := a.Rooms[id]
		row := roomRow{RoomID: id, Title: ri.Title, Anchor: ri.AnchorName, Area: strings.Trim(ri.ParentAreaName+" / "+ri.AreaName, " /"),
			Danmaku: k["danmaku"], Gifts: k["gift"], SuperChats: k["super_chat"], Guards: k["guard"], Revenue: cny(yuan(a.Money[id])),
			Coverage: c.Coverage, CoverageText: percent(c.Coverage), Judged: c.HistSeen, Connections: c.Connections,
			Share: fmt.Sprintf("%.0f%%", 100*c.ConnectedShare)}
		if c.Connections > 0 {
			row.Interval = fmt.Sprintf("%.0f–%.0f%%", 100*lo, 100*hi)
		}
		v.Rooms = append(v.Rooms, row)
	}
	v.Top, v.Cover = svg(top.SVG()), svg(est.SVG())
}

// moneyChart draws what was paid, by kind, in CNY.
func (ds *Dataset) moneyChart(v *reportView) {
	var m storage.Money
	for _, x := range ds.Act.Money {
		m = m.Add(x)
	}
	gifts, sc, guards := float64(m.GiftGold)/1000, float64(m.SuperChat), float64(m.GuardGold)/1000
	v.GiftCNY, v.SCCNY, v.GuardCNY, v.BagCNY = cny(gifts), cny(sc), cny(guards), cny(float64(m.BagGold)/1000)
	bar := chart.Bar{Title: "revenue by kind (CNY)", Horizontal: true, Format: cny,
		Labels: []string{fmt.Sprintf("gifts (%d paid)", m.Gifts), fmt.Sprintf("super chats (%d)", m.SuperChats), fmt.Sprintf("guards (%d)", m.Guards)},
		Values: []float64{gifts, sc, guards}}
	v.Money = svg(bar.SVG())
}

// identityChart draws the share of the connected time that was
// anonymous, sampled while logged in, and the full stream.
func (ds *Dataset) identityChart(v *reportView) {
	var total, anon, sampled float64
	for _, s := range ds.Act.Spans {
		d := float64(s.ToMs - s.FromMs)
		total += d
		switch {
		case s.Anonymous:
			anon += d
		case s.Sampled:
			sampled += d
		}
	}
	share := func(x float64) float64 {
		if total == 0 {
			return 0
		}
		return x / total
	}
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	v.AnonShare, v.SampledShare, v.FullShare = pct(share(anon)), pct(share(sampled)), pct(share(total-anon-sampled))
	bar := chart.Bar{Title: "connected time by what it received", Horizontal: true, Format: pct,
		Labels: []string{"logged in, full stream", "logged in, sampled (throttled)", "anonymous (a ~10 % sample)"},
		Values: []float64{share(total - anon - sampled), share(sampled), share(anon)}}
	v.Identity = svg(bar.SVG())
}
