package statuspage

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/metrics"
)

// Fake builds a snapshot of n rooms: room i has i events, every fifth is
// reconnecting, every seventh sampled; room 3's title is hostile.
func Fake(n int) Snapshot {
	now := time.Now()
	s := Snapshot{Run: Run{Version: "test", Started: now.Add(-time.Hour), DB: "x.db", Phase: "collecting", HTTPRate: 2},
		Status: collector.Status{At: now, EventsElsewhere: 5}}
	for i := 1; i <= n; i++ {
		r := collector.RoomStatus{RoomID: int64(1000 + i), Title: fmt.Sprintf("room %05d", i), Area: "娱乐 / 唱见", Anchor: "主播",
			State: collector.StateConnected, ConnectedShare: 0.9, Events: int64(i), Danmaku: int64(i / 2), EventsPerMin: float64(i % 97),
			PerMinute: make([]int64, collector.StatusMinutes), LastEventMs: now.UnixMilli() - int64(i)*1000, Judged: 40, Arrived: 36}
		for m := range r.PerMinute {
			r.PerMinute[m] = int64((i + m) % 13)
		}
		if i%4 == 0 {
			c := 0.9
			r.Coverage, r.CoverageLow, r.CoverageHigh = &c, 0.77, 0.96
		}
		switch {
		case i%5 == 0:
			r.State, r.LastError, r.LastErrorMs = collector.StateReconnecting, "error: <b>boom</b>", now.UnixMilli()
		case i%7 == 0:
			r.State, r.Sampled, r.Anonymous = collector.StateSampled, true, true
		}
		s.Status.Rooms = append(s.Status.Rooms, r)
	}
	if n >= 3 {
		s.Status.Rooms[2].Title = `<script>document.title="owned"</script>`
		s.Status.Rooms[2].Anchor = `<img src=x onerror=alert(1)>`
	}
	s.Totals = metrics.Totals{HTTPRequests: 12, HTTPRateLimited: 1}
	return s
}

func get(t testing.TB, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func handler(s Snapshot) http.Handler {
	mux := http.NewServeMux()
	New(func() Snapshot { return s }).Register(mux)
	return mux
}

// TestPageEscapes: a title and a name from Bilibili are text, never
// markup.
func TestPageEscapes(t *testing.T) {
	h := handler(Fake(10))
	code, body := get(t, h, "/?sort=room&dir=asc")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, bad := range []string{"<script>document", "<img src=x", "<b>boom"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;document.title=") || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the hostile title is not on the page as text")
	}
	if strings.Count(body, `<tr class="room"`) != 10 {
		t.Errorf("%d rows, want 10", strings.Count(body, `<tr class="room"`))
	}
}

// TestPageSortsAndPages: ?sort= orders every column both ways, ?page=
// walks the rooms, and the totals count all rooms whatever the page.
func TestPageSortsAndPages(t *testing.T) {
	s := Fake(250)
	h := handler(s)
	rowRe := regexp.MustCompile(`data-room="(\d+)"`)
	rooms := func(body string) []string {
		var ids []string
		for _, m := range rowRe.FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	_, body := get(t, h, "/?sort=events&dir=desc")
	if ids := rooms(body); len(ids) != defaultPer || ids[0] != "1250" || ids[1] != "1249" {
		t.Errorf("events desc: %d rows starting %v", len(ids), ids[:min(3, len(ids))])
	}
	_, body = get(t, h, "/?sort=events&dir=asc&page=3")
	if ids := rooms(body); len(ids) != 50 || ids[0] != "1201" || ids[49] != "1250" {
		t.Errorf("events asc page 3: %d rows %v…", len(ids), ids[:min(3, len(ids))])
	}
	if !strings.Contains(body, `id="total-rooms">250<`) || !strings.Contains(body, `id="total-reconnecting">50<`) {
		t.Errorf("totals do not count every room")
	}
	for _, c := range columns {
		for _, dir := range []string{"asc", "desc"} {
			code, body := get(t, h, "/?per=1000&sort="+c.Key+"&dir="+dir)
			if code != 200 || len(rooms(body)) != 250 {
				t.Errorf("sort %s %s: status %d, %d rows", c.Key, dir, code, len(rooms(body)))
			}
		}
	}
	_, body = get(t, h, "/?state=reconnecting&per=1000")
	if n := len(rooms(body)); n != 50 {
		t.Errorf("state=reconnecting: %d rows, want 50", n)
	}
	_, body = get(t, h, "/?q=1007")
	if ids := rooms(body); len(ids) != 1 || ids[0] != "1007" {
		t.Errorf("q=1007: %v", ids)
	}
}

// TestAPIStatus: /api/status has the rooms and the totals under the
// documented keys, and they add up.
func TestAPIStatus(t *testing.T) {
	h := handler(Fake(30))
	code, body := get(t, h, "/api/status")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	var got struct {
		Rooms  []map[string]any `json:"rooms"`
		Totals map[string]any   `json:"totals"`
		Run    map[string]any   `json:"run"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rooms) != 30 {
		t.Fatalf("%d rooms", len(got.Rooms))
	}
	for _, k := range []string{"room_id", "title", "area", "state", "connected_share", "coverage", "coverage_low", "coverage_high",
		"events", "events_per_min", "per_minute", "last_event_ms", "last_error"} {
		if _, ok := got.Rooms[0][k]; !ok {
			t.Errorf("room lacks %q", k)
		}
	}
	var events float64
	for _, r := range got.Rooms {
		events += r["events"].(float64)
	}
	if got.Totals["events"].(float64) != events+5 || got.Totals["rooms"].(float64) != 30 || got.Totals["connected"].(float64) != 24 {
		t.Errorf("totals %v (Σ events %v)", got.Totals, events)
	}
	if got.Run["http_requests"].(float64) != 12 || got.Run["version"] != "test" {
		t.Errorf("run %v", got.Run)
	}
	if strings.Contains(body, `\u003c`) {
		t.Errorf("JSON escapes < needlessly")
	}
}

// BenchmarkPage10k renders the page for 10,000 rooms (sorted by title:
// every room is compared) and /api/status with all of them.
func BenchmarkPage10k(b *testing.B) {
	h := handler(Fake(10000))
	for _, target := range []string{"/?sort=title", "/api/status"} {
		b.Run(strings.TrimPrefix(target, "/"), func(b *testing.B) {
			for b.Loop() {
				if code, _ := get(b, h, target); code != 200 {
					b.Fatal(code)
				}
			}
		})
	}
}
