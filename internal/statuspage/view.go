package statuspage

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/danmakud/danmakud/collector"
)

// Totals sum the rooms of a snapshot (all of them, whatever the filter
// or page): the "totals" of /api/status. Each figure that /metrics also
// exports equals it when read at the same moment: Rooms is
// danmakud_rooms_desired, Connected danmakud_rooms_connected, Sampled
// danmakud_rooms_sampled, Waiting danmakud_rooms_waiting, Unwatched
// danmakud_rooms_over_fd_budget, Events the sum of danmakud_events_total
// and Danmaku its kind="danmaku" series.
type Totals struct {
	Rooms        int `json:"rooms"`
	Connected    int `json:"connected"` // a connection up (state connected or sampled)
	Sampled      int `json:"sampled"`
	Reconnecting int `json:"reconnecting"`
	Connecting   int `json:"connecting"`
	Waiting      int `json:"waiting"`
	Unwatched    int `json:"unwatched"`
	Anonymous    int `json:"anonymous"` // rooms whose connection up now carries no login
	// Events and Danmaku: decoded in this run, the rooms' plus those of
	// rooms no longer wanted (EventsElsewhere, DanmakuElsewhere).
	Events           int64   `json:"events"`
	Danmaku          int64   `json:"danmaku"`
	EventsElsewhere  int64   `json:"events_elsewhere"`
	DanmakuElsewhere int64   `json:"danmaku_elsewhere"`
	EventsPerMin     float64 `json:"events_per_min"`
	Judged           int64   `json:"judged"`
	Arrived          int64   `json:"arrived"`
	PerMinute        []int64 `json:"per_minute"` // Σ of the rooms' per_minute
}

func totals(s collector.Status) Totals {
	t := Totals{Rooms: len(s.Rooms), EventsElsewhere: s.EventsElsewhere, DanmakuElsewhere: s.DanmakuElsewhere,
		Events: s.EventsElsewhere, Danmaku: s.DanmakuElsewhere, PerMinute: make([]int64, collector.StatusMinutes)}
	for _, r := range s.Rooms {
		switch r.State {
		case collector.StateConnected, collector.StateSampled:
			t.Connected++
			if r.Anonymous {
				t.Anonymous++
			}
		case collector.StateReconnecting:
			t.Reconnecting++
		case collector.StateConnecting:
			t.Connecting++
		case collector.StateWaiting:
			t.Waiting++
		case collector.StateUnwatched:
			t.Unwatched++
		}
		if r.Sampled {
			t.Sampled++
		}
		t.Events += r.Events
		t.Danmaku += r.Danmaku
		t.EventsPerMin += r.EventsPerMin
		t.Judged += r.Judged
		t.Arrived += r.Arrived
		for i, v := range r.PerMinute {
			if i < len(t.PerMinute) {
				t.PerMinute[i] += v
			}
		}
	}
	return t
}

// column is a sortable column of the room table.
type column struct {
	Key, Label string
	desc       bool // sorted descending first (numbers: the largest first)
	cmp        func(a, b *collector.RoomStatus) int
}

// stateOrder ranks states for sorting: the ones that need a look first.
var stateOrder = map[string]int{collector.StateReconnecting: 0, collector.StateConnecting: 1, collector.StateWaiting: 2,
	collector.StateUnwatched: 3, collector.StateSampled: 4, collector.StateConnected: 5}

func coverageKey(r *collector.RoomStatus) float64 {
	if r.Coverage == nil {
		return -1
	}
	return *r.Coverage
}

func hourSum(r *collector.RoomStatus) int64 {
	var s int64
	for _, v := range r.PerMinute {
		s += v
	}
	return s
}

// columns are the room table's columns, in order; their keys are the
// ?sort= values.
var columns = []column{
	{"room", "Room", false, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.RoomID, b.RoomID) }},
	{"title", "Title", false, func(a, b *collector.RoomStatus) int { return strings.Compare(a.Title, b.Title) }},
	{"area", "Area", false, func(a, b *collector.RoomStatus) int { return strings.Compare(a.Area, b.Area) }},
	{"state", "State", false, func(a, b *collector.RoomStatus) int { return cmp.Compare(stateOrder[a.State], stateOrder[b.State]) }},
	{"share", "Connected", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.ConnectedShare, b.ConnectedShare) }},
	{"coverage", "Coverage", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(coverageKey(a), coverageKey(b)) }},
	{"epm", "Events/min", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.EventsPerMin, b.EventsPerMin) }},
	{"hour", "Last hour", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(hourSum(a), hourSum(b)) }},
	{"events", "Events", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.Events, b.Events) }},
	{"last", "Last event", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.LastEventMs, b.LastEventMs) }},
	{"error", "Last error", true, func(a, b *collector.RoomStatus) int { return cmp.Compare(a.LastErrorMs, b.LastErrorMs) }},
}

func columnOf(key string) (column, bool) {
	for _, c := range columns {
		if c.Key == key {
			return c, true
		}
	}
	return column{}, false
}

// query is a request's view: sort, direction, filter and page.
type query struct {
	Sort    string
	Desc    bool
	State   string // "" = all
	Search  string // room id, or part of the title or the streamer's name ("" = all)
	Page    int    // 1-based
	Per     int    // rows per page; 0 = all (/api/status)
	Refresh int    // seconds between reloads of the page; 0 = none
}

const (
	defaultPer     = 100
	maxPer         = 1000
	defaultRefresh = 10
)

// parseQuery reads ?sort=&dir=&state=&q=&page=&per=&refresh=; bad
// values fall back to the defaults (this is a page, not an API to
// refuse).
func parseQuery(v url.Values, per int) query {
	q := query{Sort: "epm", Desc: true, Page: 1, Per: per, Refresh: defaultRefresh}
	if c, ok := columnOf(v.Get("sort")); ok {
		q.Sort, q.Desc = c.Key, c.desc
	}
	switch v.Get("dir") {
	case "asc":
		q.Desc = false
	case "desc":
		q.Desc = true
	}
	if _, ok := stateOrder[v.Get("state")]; ok {
		q.State = v.Get("state")
	}
	q.Search = strings.TrimSpace(v.Get("q"))
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 0 {
		q.Page = n
	}
	if n, err := strconv.Atoi(v.Get("per")); err == nil && n > 0 {
		q.Per = min(n, maxPer)
	}
	if n, err := strconv.Atoi(v.Get("refresh")); err == nil && n >= 0 {
		q.Refresh = n
		if n > 0 {
			q.Refresh = max(n, 2)
		}
	}
	return q
}

// url is the page's address for q changed by set (key → value, "" to
// drop a key).
func (q query) url(set ...string) string {
	v := url.Values{}
	put := func(k, val, def string) {
		if val != def {
			v.Set(k, val)
		}
	}
	c, _ := columnOf(q.Sort)
	put("sort", q.Sort, "epm")
	put("dir", map[bool]string{true: "desc", false: "asc"}[q.Desc], map[bool]string{true: "desc", false: "asc"}[c.desc])
	put("state", q.State, "")
	put("q", q.Search, "")
	put("page", strconv.Itoa(q.Page), "1")
	put("per", strconv.Itoa(q.Per), strconv.Itoa(defaultPer))
	put("refresh", strconv.Itoa(q.Refresh), strconv.Itoa(defaultRefresh))
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			v.Del(set[i])
		} else {
			v.Set(set[i], set[i+1])
		}
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// selectRooms filters and sorts rooms by q (ties by room id) and
// returns the page q asks for (the last page when q.Page is past it),
// the number of rooms that passed the filter and the page number.
func selectRooms(rooms []collector.RoomStatus, q query) (page []collector.RoomStatus, matched, pageNo int) {
	sel := make([]*collector.RoomStatus, 0, len(rooms))
	search := strings.ToLower(q.Search)
	for i := range rooms {
		r := &rooms[i]
		if q.State != "" && r.State != q.State {
			continue
		}
		if search != "" && strconv.FormatInt(r.RoomID, 10) != search &&
			!strings.Contains(strings.ToLower(r.Title), search) && !strings.Contains(strings.ToLower(r.Anchor), search) {
			continue
		}
		sel = append(sel, r)
	}
	c, _ := columnOf(q.Sort)
	slices.SortFunc(sel, func(a, b *collector.RoomStatus) int {
		n := c.cmp(a, b)
		if q.Desc {
			n = -n
		}
		if n == 0 {
			n = cmp.Compare(a.RoomID, b.RoomID)
		}
		return n
	})
	per := q.Per
	if per <= 0 {
		per = max(len(sel), 1)
	}
	pages := max(1, (len(sel)+per-1)/per)
	pageNo = min(q.Page, pages)
	lo := (pageNo - 1) * per
	hi := min(lo+per, len(sel))
	page = make([]collector.RoomStatus, 0, hi-lo)
	for _, r := range sel[lo:hi] {
		page = append(page, *r)
	}
	return page, len(sel), pageNo
}
