package statuspage

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/chart"
)

// bilibiliZone is Bilibili's time zone (UTC+8, no DST), shown beside UTC.
var bilibiliZone = time.FixedZone("UTC+8", 8*3600)

//go:embed page.html.tmpl
var pageText string

var pageTmpl = template.Must(template.New("page").Parse(pageText))

// runJSON is /api/status's "run".
type runJSON struct {
	Version         string  `json:"version"`
	StartedMs       int64   `json:"started_ms"`
	UptimeS         float64 `json:"uptime_s"`
	DB              string  `json:"db"`
	Phase           string  `json:"phase"`
	Accounts        int     `json:"accounts"`
	AccountsOK      int64   `json:"accounts_logged_in"`
	AccountsLapsed  int64   `json:"accounts_lapsed"`
	AnonymousShare  float64 `json:"anonymous_share"` // of the rooms connected now, the share connected without a login
	HTTPRate        float64 `json:"http_rate"`
	HTTPRequests    int64   `json:"http_requests"`
	HTTPRateLimited int64   `json:"http_412"`
	HTTPRefused     int64   `json:"http_held_by_breaker"`
	HTTPSkipped     int64   `json:"http_checks_skipped"`
	BreakerUntilMs  int64   `json:"breaker_open_until_ms"` // 0: closed
}

// apiJSON is /api/status's answer.
type apiJSON struct {
	AtMs    int64                  `json:"at_ms"`
	Run     runJSON                `json:"run"`
	Rooms   []collector.RoomStatus `json:"rooms"`
	Totals  Totals                 `json:"totals"`
	Matched int                    `json:"matched"` // rooms that passed ?state= and ?q=
}

func runOf(s Snapshot, t Totals) runJSON {
	r := runJSON{Version: s.Run.Version, StartedMs: s.Run.Started.UnixMilli(), DB: s.Run.DB, Phase: s.Run.Phase,
		Accounts: s.Run.Accounts, AccountsOK: s.Totals.AccountsOK, AccountsLapsed: s.Totals.AccountsLapsed,
		HTTPRate: s.Run.HTTPRate, HTTPRequests: s.Totals.HTTPRequests, HTTPRateLimited: s.Totals.HTTPRateLimited,
		HTTPRefused: s.Totals.HTTPRefused, HTTPSkipped: s.Totals.HTTPSkipped}
	if !s.Run.Started.IsZero() {
		r.UptimeS = s.Status.At.Sub(s.Run.Started).Seconds()
	}
	if t.Connected > 0 {
		r.AnonymousShare = float64(t.Anonymous) / float64(t.Connected)
	}
	if s.Run.BreakerOpenUntil.After(s.Status.At) {
		r.BreakerUntilMs = s.Run.BreakerOpenUntil.UnixMilli()
	}
	return r
}

func (p *Page) serveJSON(w http.ResponseWriter, req *http.Request) {
	s := p.source()
	q := parseQuery(req.URL.Query(), 0)
	t := totals(s.Status)
	rooms, matched, _ := selectRooms(s.Status.Rooms, q)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(apiJSON{AtMs: s.Status.At.UnixMilli(), Run: runOf(s, t), Rooms: rooms, Totals: t, Matched: matched})
}

// rowView is one room as the table shows it.
type rowView struct {
	collector.RoomStatus
	Share, Cover, CoverTitle, EPM, Events, LastEvent, LastEventAt, ErrorAge, ErrorAt string
	Spark                                                                            template.HTML
}

// headView is a column header: its sort link and arrow.
type headView struct {
	Key, Label, URL, Arrow string
}

// linkView is a labelled link (a filter or a page).
type linkView struct {
	Label, URL string
	Current    bool
}

type pageView struct {
	Run                  runJSON
	Started, Uptime      string
	Breaker              string
	AnonShare            string
	Totals               Totals
	TotalSpark           template.HTML
	TotalEPM             string
	Q                    query
	Heads                []headView
	Rows                 []rowView
	States               []linkView
	PageLinks            []linkView
	Matched, Page, Pages int
	Prev, Next           string
	RefreshURL           string
	At                   string
}

func (p *Page) serveHTML(w http.ResponseWriter, req *http.Request) {
	s := p.source()
	q := parseQuery(req.URL.Query(), defaultPer)
	v := buildView(s, q)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTmpl.Execute(w, v); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
	}
}

// buildView turns a snapshot into what the template shows.
func buildView(s Snapshot, q query) pageView {
	now := s.Status.At
	t := totals(s.Status)
	run := runOf(s, t)
	v := pageView{Run: run, Totals: t, Q: q, At: stamp(now)}
	if !s.Run.Started.IsZero() {
		v.Started, v.Uptime = stamp(s.Run.Started), now.Sub(s.Run.Started).Round(time.Second).String()
	}
	v.Breaker = "closed"
	if run.BreakerUntilMs != 0 {
		v.Breaker = "open (after a 412) until " + s.Run.BreakerOpenUntil.In(bilibiliZone).Format("15:04:05 MST")
	}
	v.AnonShare = "no room connected"
	if t.Connected > 0 {
		v.AnonShare = fmt.Sprintf("%d of %d connected rooms (%.0f%%)", t.Anonymous, t.Connected, 100*run.AnonymousShare)
	}
	v.TotalSpark = template.HTML(chart.Sparkline(floats(t.PerMinute), 240, 36, "events per minute, all rooms, last hour"))
	v.TotalEPM = strconv.FormatFloat(t.EventsPerMin, 'f', 1, 64)
	for _, c := range columns {
		h := headView{Key: c.Key, Label: c.Label, URL: q.url("sort", c.Key, "dir", "", "page", "")}
		if c.Key == q.Sort {
			h.Arrow = map[bool]string{true: "▼", false: "▲"}[q.Desc]
			h.URL = q.url("dir", map[bool]string{true: "asc", false: "desc"}[q.Desc], "page", "")
		}
		v.Heads = append(v.Heads, h)
	}
	page, matched, pageNo := selectRooms(s.Status.Rooms, q)
	v.Matched, v.Page, v.Pages = matched, pageNo, max(1, (matched+q.Per-1)/q.Per)
	for _, r := range page {
		v.Rows = append(v.Rows, rowOf(r, now))
	}
	counts := map[string]int{collector.StateReconnecting: t.Reconnecting, collector.StateConnecting: t.Connecting,
		collector.StateWaiting: t.Waiting, collector.StateUnwatched: t.Unwatched}
	for _, r := range s.Status.Rooms {
		if r.State == collector.StateSampled {
			counts[collector.StateSampled]++
		}
	}
	counts[collector.StateConnected] = t.Connected - counts[collector.StateSampled]
	v.States = append(v.States, linkView{Label: fmt.Sprintf("all (%d)", t.Rooms), URL: q.url("state", "", "page", ""), Current: q.State == ""})
	for _, st := range []string{collector.StateConnected, collector.StateSampled, collector.StateReconnecting,
		collector.StateConnecting, collector.StateWaiting, collector.StateUnwatched} {
		v.States = append(v.States, linkView{Label: fmt.Sprintf("%s (%d)", st, counts[st]), URL: q.url("state", st, "page", ""), Current: q.State == st})
	}
	if v.Page > 1 {
		v.Prev = q.url("page", strconv.Itoa(v.Page-1))
	}
	if v.Page < v.Pages {
		v.Next = q.url("page", strconv.Itoa(v.Page+1))
	}
	v.PageLinks = pageLinks(q, v.Page, v.Pages)
	v.RefreshURL = q.url("refresh", map[bool]string{true: "0", false: strconv.Itoa(defaultRefresh)}[q.Refresh > 0])
	return v
}

// pageLinks are the links to the first and last page and to those near
// the current one, with "…" where pages are left out.
func pageLinks(q query, cur, pages int) []linkView {
	var out []linkView
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < cur-3 || n > cur+3) {
			continue
		}
		if n > last+1 {
			out = append(out, linkView{Label: "…"})
		}
		out = append(out, linkView{Label: strconv.Itoa(n), URL: q.url("page", strconv.Itoa(n)), Current: n == cur})
		last = n
	}
	return out
}
