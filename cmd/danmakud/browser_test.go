package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
	dto "github.com/prometheus/client_model/go"
)

// hostileTitle is a room title with markup and a script that must stay
// text on the page and in the report.
const hostileTitle = `<script>window.owned=1</script><b>bold</b> & "quoted"`

// apiStatus is /api/status as the test reads it.
type apiStatus struct {
	Rooms []struct {
		RoomID  int64  `json:"room_id"`
		Title   string `json:"title"`
		State   string `json:"state"`
		Events  int64  `json:"events"`
		Danmaku int64  `json:"danmaku"`
		Judged  int64  `json:"judged"`
		Arrived int64  `json:"arrived"`
	} `json:"rooms"`
	Totals map[string]any `json:"totals"`
}

// total is a number of st's totals (0 when absent).
func (st apiStatus) total(k string) float64 {
	v, _ := st.Totals[k].(float64)
	return v
}

func getStatus(t *testing.T, addr string) apiStatus {
	t.Helper()
	res, err := http.Get("http://" + addr + "/api/status?sort=room&dir=asc")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s apiStatus
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// pageRow is a room row of the status page as the browser rendered it.
type pageRow struct {
	Room    int64  `json:"room"`
	Title   string `json:"title"`
	State   string `json:"state"`
	Events  int64  `json:"events"`
	Danmaku int64  `json:"danmaku"`
}

const pageRowsJS = `[...document.querySelectorAll('#rooms tr.room')].map(tr => ({
  room: +tr.dataset.room,
  title: tr.querySelector('td[data-k=title]').firstChild.textContent.trim(),
  state: tr.querySelector('td[data-k=state] .st').textContent,
  events: +tr.querySelector('td[data-k=events]').dataset.v,
  danmaku: +tr.querySelector('td[data-k=events]').dataset.danmaku,
}))`

const pageTotalsJS = `Object.fromEntries([...document.querySelectorAll('#totals b[id]')].map(b => [b.id.slice(6), +b.textContent]))`

// screenshotDir, when set (DANMAKUD_SCREENSHOTS=docs), makes the browser
// test a 200-room anonymous run that writes the status page and the
// report as PNGs there (docs/status-page.png, docs/report.png).
func screenshotDir() string { return os.Getenv("DANMAKUD_SCREENSHOTS") }

// TestStatusPageAndReportInBrowser runs collect against the simulator
// with the status page on, opens the page in headless Chromium once the
// traffic has stopped and everything is stored, and checks what the
// browser rendered: every room and the totals equal /api/status and
// /metrics, the per-room figures equal `stats --json`, a hostile title
// stays text, and a click on a column header sorts. Then it writes the
// report of the database and checks its figures against `stats --json`
// in the browser too.
func TestStatusPageAndReportInBrowser(t *testing.T) {
	rooms, traffic, keep := 30, 6*time.Second, 0.0
	if screenshotDir() != "" {
		rooms, traffic, keep = 200, 150*time.Second, 0.1
	}
	ctx := browsertest.New(t, traffic+3*time.Minute)
	sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: 400, Seed: 18, Tick: 100 * time.Millisecond, TrafficFor: traffic,
		HTTPRate: 1000, HTTPBurst: 1000, AnonKeep: keep, Titles: map[int]string{1: hostileTitle}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "browser.db")
	cfg := testrun.Config(sim.URL(), db)
	cfg.Top, cfg.Version, cfg.Refresh = rooms, "browser-test", time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Heartbeats every 5 s (the tests' half second would drop a
	// connection whose reply a loaded machine delays a second), 30 s,
	// collect's default, for the screenshots.
	cfg.MetricsListener, cfg.HTTPRate, cfg.Heartbeat = ln, 200, 5*time.Second
	if screenshotDir() != "" {
		cfg.Heartbeat = 30 * time.Second
	}
	addr := ln.Addr().String()
	run := testrun.Start(t, cfg)

	testkit.Poll(t, 30*time.Second, "every room connected", func() bool { return getStatus(t, addr).total("connected") == float64(rooms) })
	testkit.Poll(t, traffic+30*time.Second, "the simulator's traffic delivered", sim.Idle)
	// Quiet: the page's events equal /metrics', two flushes have passed
	// since (every danmaku decoded is stored), and the history checks
	// stored are the page's.
	var st apiStatus
	var fams map[string]*dto.MetricFamily
	var stats storage.Summary
	flushes := -1.0
	testkit.Poll(t, 60*time.Second, "the run settling", func() bool {
		fams = testkit.Scrape(t, addr)
		st = getStatus(t, addr)
		if st.total("events") != testkit.MetricValue(fams, "danmakud_events_total") ||
			st.total("danmaku") != testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku") {
			return false
		}
		f := testkit.MetricValue(fams, "danmakud_flushes_total")
		if flushes < 0 {
			flushes = f
		}
		if f < flushes+2 {
			return false
		}
		stats = statsJSON(t, db)
		var seen, judged int64
		for _, c := range stats.Connections {
			seen += c.HistSeen
		}
		for _, r := range st.Rooms {
			judged += r.Judged
		}
		return seen == judged && judged > 0
	})
	checkStatusPage(t, ctx, addr, st, fams, stats)
	if screenshotDir() != "" {
		browsertest.Navigate(t, ctx, "http://"+addr+"/?refresh=0")
		browsertest.Screenshot(t, ctx, filepath.Join(screenshotDir(), "status-page.png"), 1400, 900)
	}
	if _, err := run.Stop(); err != nil {
		t.Fatalf("collect: %v", err)
	}
	checkReport(t, ctx, db)
}

// checkStatusPage compares the page the browser rendered with
// /api/status and /metrics read before it (st, fams) and after it, and
// with `stats --json`. Viewer counters still arrive after the traffic
// stopped, so the events lie between the two reads; the rest is equal.
func checkStatusPage(t *testing.T, ctx context.Context, addr string, st apiStatus, fams map[string]*dto.MetricFamily, stats storage.Summary) {
	browsertest.Navigate(t, ctx, "http://"+addr+"/?per=1000&sort=room&dir=asc&refresh=0")
	rows := browsertest.Eval[[]pageRow](t, ctx, pageRowsJS)
	totals := browsertest.Eval[map[string]float64](t, ctx, pageTotalsJS)
	after, famsAfter := getStatus(t, addr), testkit.Scrape(t, addr)
	if len(rows) != len(st.Rooms) || len(rows) != len(after.Rooms) || len(rows) == 0 {
		t.Fatalf("the page shows %d rooms, /api/status %d", len(rows), len(st.Rooms))
	}
	hostile, twice := false, int64(0)
	for i, r := range rows {
		a := st.Rooms[i]
		if r.Room != a.RoomID || r.Title != a.Title || r.State != a.State || r.Danmaku != a.Danmaku ||
			r.Events < a.Events || r.Events > after.Rooms[i].Events {
			t.Errorf("row %d: page %+v, /api/status %+v", i, r, a)
		}
		hostile = hostile || r.Title == hostileTitle
		// The page counts the danmaku that arrived, stats those stored: a
		// room's mirrored danmaku arrive twice and are stored once.
		k := stats.Rooms[strconv.FormatInt(a.RoomID, 10)].Kinds["danmaku"]
		if a.Danmaku < k {
			t.Errorf("room %d: %d danmaku on the page's API, stats --json %d", a.RoomID, a.Danmaku, k)
		}
		twice += a.Danmaku - k
	}
	if d := testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku") - testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "danmaku"); float64(twice) != d {
		t.Errorf("the page's danmaku exceed stats' by %d, /metrics' decoded exceed its written by %v", twice, d)
	}
	for _, c := range stats.Connections {
		for _, a := range st.Rooms {
			if a.RoomID == c.RoomID && (a.Judged != c.HistSeen || a.Arrived != c.HistArrived) {
				t.Errorf("room %d: history %d/%d on the page's API, stats --json %d/%d", a.RoomID, a.Arrived, a.Judged, c.HistArrived, c.HistSeen)
			}
		}
	}
	metric := map[string]float64{"rooms": testkit.MetricValue(fams, "danmakud_rooms_desired"),
		"connected": testkit.MetricValue(fams, "danmakud_rooms_connected"), "sampled": testkit.MetricValue(fams, "danmakud_rooms_sampled"),
		"waiting": testkit.MetricValue(fams, "danmakud_rooms_waiting"), "danmaku": testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku")}
	for k, want := range metric {
		if totals[k] != want || st.total(k) != want {
			t.Errorf("total %s: page %v, /api/status %v, /metrics %v", k, totals[k], st.total(k), want)
		}
	}
	if lo, hi := testkit.MetricValue(fams, "danmakud_events_total"), testkit.MetricValue(famsAfter, "danmakud_events_total"); totals["events"] < lo || totals["events"] > hi || st.total("events") != lo {
		t.Errorf("total events: page %v, /api/status %v, /metrics %v before and %v after", totals["events"], st.total("events"), lo, hi)
	}
	if !hostile {
		t.Errorf("no room shows the title %q as text", hostileTitle)
	}
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#rooms script, #rooms b').length + (window.owned ? 100 : 0)`); n != 0 {
		t.Errorf("the hostile title became markup or ran (%d)", n)
	}
	// Sorting: a click on a header sorts by it, a second click reverses.
	events := func() []int64 {
		var out []int64
		for _, r := range browsertest.Eval[[]pageRow](t, ctx, pageRowsJS) {
			out = append(out, r.Events)
		}
		return out
	}
	browsertest.Click(t, ctx, `a[data-sort="events"]`)
	if e := events(); len(e) != len(rows) || !slices.IsSortedFunc(e, func(a, b int64) int { return int(b - a) }) || e[0] == e[len(e)-1] {
		t.Errorf("sorted by events: %v", e)
	}
	browsertest.Click(t, ctx, `a[data-sort="events"]`)
	if e := events(); !slices.IsSorted(e) {
		t.Errorf("sorted by events, ascending: %v", e)
	}
	if res, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %v %v", res.StatusCode, err)
	}
}

// checkReport writes the report of db and compares what the browser
// shows with `stats --json`.
func checkReport(t *testing.T, ctx context.Context, db string) {
	out := filepath.Join(filepath.Dir(db), "report.html")
	if code, _, errs := runCLI(t, "", "report", "--db", db, "-o", out); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	stats := statsJSON(t, db)
	browsertest.Navigate(t, ctx, "file://"+out)
	figures := browsertest.Eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('[data-stat]')].map(e => [e.dataset.stat, e.textContent]))`)
	for table, n := range stats.Rows {
		if figures["rows."+table] != strconv.FormatInt(n, 10) {
			t.Errorf("report rows.%s %q, stats --json %d", table, figures["rows."+table], n)
		}
	}
	if figures["runs"] != strconv.FormatInt(stats.Runs, 10) || figures["rooms_seen"] != strconv.FormatInt(stats.RoomsSeen, 10) {
		t.Errorf("report: %s runs, %s rooms; stats --json %d, %d", figures["runs"], figures["rooms_seen"], stats.Runs, stats.RoomsSeen)
	}
	type reportRoom struct {
		Room     string            `json:"room"`
		Title    string            `json:"title"`
		K        map[string]string `json:"k"`
		Coverage string            `json:"coverage"`
	}
	rooms := browsertest.Eval[[]reportRoom](t, ctx, `[...document.querySelectorAll('#rooms tr[data-room]')].map(tr => ({
  room: tr.dataset.room, title: tr.querySelector('td.title').firstChild ? tr.querySelector('td.title').firstChild.textContent.trim() : '',
  k: Object.fromEntries([...tr.querySelectorAll('td[data-k]')].map(td => [td.dataset.k, td.textContent])),
  coverage: tr.querySelector('td[data-k=coverage]').dataset.v}))`)
	listed := map[string]bool{} // rooms with events or connections
	for room := range stats.Rooms {
		listed[room] = true
	}
	for _, c := range stats.Connections {
		listed[strconv.FormatInt(c.RoomID, 10)] = true
	}
	if len(rooms) != len(listed) {
		t.Errorf("report lists %d rooms, stats --json %d with events or connections", len(rooms), len(listed))
	}
	hostile := false
	for _, r := range rooms {
		want := stats.Rooms[r.Room]
		for _, k := range []string{"danmaku", "gift", "super_chat", "guard"} {
			if r.K[k] != strconv.FormatInt(want.Kinds[k], 10) {
				t.Errorf("report room %s %s %q, stats --json %d", r.Room, k, r.K[k], want.Kinds[k])
			}
		}
		got, _ := strconv.ParseFloat(r.Coverage, 64)
		if (want.Coverage == nil) != (r.Coverage == "") || (want.Coverage != nil && got != *want.Coverage) {
			t.Errorf("report room %s coverage %q, stats --json %v", r.Room, r.Coverage, want.Coverage)
		}
		hostile = hostile || r.Title == hostileTitle
	}
	if !hostile || browsertest.Eval[bool](t, ctx, `!!window.owned || document.querySelectorAll('#rooms script, #rooms b').length > 0`) {
		t.Errorf("the hostile title is not text in the report")
	}
	if screenshotDir() != "" {
		browsertest.Screenshot(t, ctx, filepath.Join(screenshotDir(), "report.png"), 1100, 1700)
	}
}
