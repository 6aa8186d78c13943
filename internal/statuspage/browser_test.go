package statuspage

import (
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/browsertest"
)

// rowsJS reads the room table as the browser rendered it.
const rowsJS = `[...document.querySelectorAll('#rooms tr.room')].map(tr => ({
  room: +tr.dataset.room,
  title: tr.querySelector('td[data-k=title]').firstChild ? tr.querySelector('td[data-k=title]').firstChild.textContent.trim() : '',
  state: tr.querySelector('td[data-k=state] .st').textContent,
  events: +tr.querySelector('td[data-k=events]').dataset.v,
  spark: tr.querySelectorAll('td[data-k=hour] svg polyline').length,
}))`

type domRow struct {
	Room   int64  `json:"room"`
	Title  string `json:"title"`
	State  string `json:"state"`
	Events int64  `json:"events"`
	Spark  int    `json:"spark"`
}

// TestPageInBrowser10k: the page for 10,000 rooms in headless Chromium:
// its first page of rows with a sparkline each, the totals over all
// rooms, sorting by clicking a column's header (both ways), and a
// hostile title that stays text. It logs how long the page took to load
// (server and browser; the figure docs/operations.md quotes).
func TestPageInBrowser10k(t *testing.T) {
	ctx := browsertest.New(t, 60*time.Second)
	snap := Fake(10000)
	srv := httptest.NewServer(handler(snap))
	defer srv.Close()

	took := browsertest.Navigate(t, ctx, srv.URL+"/?refresh=0")
	load := browsertest.Eval[float64](t, ctx, `performance.getEntriesByType('navigation')[0].duration`)
	t.Logf("10,000 rooms: the page loaded in %v (navigation timing %.0f ms)", took.Round(time.Millisecond), load)
	rows := browsertest.Eval[[]domRow](t, ctx, rowsJS)
	if len(rows) != defaultPer {
		t.Fatalf("%d rows on the first page, want %d", len(rows), defaultPer)
	}
	for _, r := range rows {
		if r.Spark != 1 {
			t.Errorf("room %d: %d sparklines, want 1", r.Room, r.Spark)
		}
	}
	if got := browsertest.Eval[string](t, ctx, `document.getElementById('total-rooms').textContent`); got != "10000" {
		t.Errorf("total rooms %q, want 10000", got)
	}
	want := totals(snap.Status)
	if got := browsertest.Eval[string](t, ctx, `document.getElementById('total-events').textContent`); got != strconv.FormatInt(want.Events, 10) {
		t.Errorf("total events %q, want %d", got, want.Events)
	}

	events := func() []int64 {
		var out []int64
		for _, r := range browsertest.Eval[[]domRow](t, ctx, rowsJS) {
			out = append(out, r.Events)
		}
		return out
	}
	browsertest.Click(t, ctx, `a[data-sort="events"]`)
	desc := events()
	if len(desc) != defaultPer || desc[0] != 10000 || !slices.IsSortedFunc(desc, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("after a click on Events: %v…, want 10000 first, descending", desc[:min(5, len(desc))])
	}
	browsertest.Click(t, ctx, `a[data-sort="events"]`)
	if asc := events(); len(asc) == 0 || asc[0] != 1 || !slices.IsSorted(asc) {
		t.Errorf("after a second click: %v…, want 1 first, ascending", asc[:min(5, len(asc))])
	}
	browsertest.Click(t, ctx, `a[data-sort="title"]`)
	var titles []string
	for _, r := range browsertest.Eval[[]domRow](t, ctx, rowsJS) {
		titles = append(titles, r.Title)
	}
	if !slices.IsSorted(titles) {
		t.Errorf("sorted by title: %q…", titles[:min(5, len(titles))])
	}

	// The hostile title (room 1003) is text: no script ran, no element
	// came from it.
	browsertest.Navigate(t, ctx, srv.URL+"/?refresh=0&q=owned")
	rows = browsertest.Eval[[]domRow](t, ctx, rowsJS)
	if len(rows) != 1 || rows[0].Title != snap.Status.Rooms[2].Title {
		t.Fatalf("room 1003: %+v, want its title as text %q", rows, snap.Status.Rooms[2].Title)
	}
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#rooms script, #rooms img').length`); n != 0 {
		t.Errorf("%d script or img elements in the table", n)
	}
	if title := browsertest.Eval[string](t, ctx, `document.title`); title == "owned" {
		t.Errorf("the title's script ran")
	}
}
