package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/roomsource"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRoomLeavingRemovesItsSeries: a room that leaves the desired set
// loses its per-room series, and its draining worker cannot bring them
// back; the other room's series stay.
func TestRoomLeavingRemovesItsSeries(t *testing.T) {
	m := New("test")
	m.SetDesired([]int64{1, 2})
	m.RoomConnected(1, true)
	m.RoomConnected(2, true)
	m.SetRoomCoverage(1, 0.5)
	m.SetRoomCoverage(2, 1)
	m.SetRoomSampled(1, true)
	if n := testutil.CollectAndCount(m.rooms.roomConnected); n != 2 {
		t.Fatalf("%d room_connected series, want 2", n)
	}
	if got := m.Totals().RoomsSampled; got != 1 {
		t.Fatalf("rooms sampled %d, want 1", got)
	}

	m.SetDesired([]int64{2, 3})
	m.RoomConnected(1, false) // room 1's worker drains after it left
	m.SetRoomCoverage(1, 0.7)
	m.SetRoomSampled(1, true)
	if n := testutil.CollectAndCount(m.rooms.roomConnected); n != 1 {
		t.Errorf("%d room_connected series after room 1 left, want 1", n)
	}
	if n := testutil.CollectAndCount(m.rooms.roomCoverage); n != 1 {
		t.Errorf("%d room_coverage_ratio series after room 1 left, want 1", n)
	}
	if v := testutil.ToFloat64(m.rooms.roomCoverage.WithLabelValues("2")); v != 1 {
		t.Errorf("room 2 coverage %v, want 1", v)
	}
	tot := m.Totals()
	if tot.RoomsSampled != 0 || tot.RoomsDesired != 2 || tot.RoomsConnected != 1 {
		t.Errorf("totals after room 1 left: sampled %d desired %d connected %d, want 0 2 1", tot.RoomsSampled, tot.RoomsDesired, tot.RoomsConnected)
	}
	exp := `# HELP danmakud_room_connected 1 while the room has an authenticated connection, else 0; removed when the room leaves the desired set.
# TYPE danmakud_room_connected gauge
danmakud_room_connected{room_id="2"} 1
`
	if err := testutil.CollectAndCompare(m.rooms.roomConnected, strings.NewReader(exp)); err != nil {
		t.Error(err)
	}
}

// TestNilHandleIsNoOp: every method works on a nil handle.
func TestNilHandleIsNoOp(t *testing.T) {
	var m *Metrics
	m.SetDesired([]int64{1})
	m.RoomConnected(1, true)
	m.SetRoomCoverage(1, 1)
	m.SetRoomSampled(1, true)
	m.RoomWaiting(1)
	m.Event("danmaku")
	m.Frame()
	m.BadFrame()
	m.Ack()
	m.Resent()
	m.UnknownCommand()
	m.Session(true)
	m.Reconnect("stalled")
	m.TokenReuse()
	m.WatchdogRecycle()
	m.Stall()
	m.AuthRejected()
	m.Upgrade()
	m.Backpressure()
	m.HTTPRequest("nav", "200")
	m.HTTPNotSent("nav", roomsource.NotSentBreaker)
	m.SetAccounts(1, 0)
	m.LoginLapse()
	m.SetQueueDepth(func() int { return 1 })
	m.WriterRecord(1)
	m.Flushed(time.Millisecond, map[string]int64{"danmaku": 1}, 0, 0, 0)
	m.FlushFailed()
	if (m.Totals() != Totals{}) || m.RowsWritten("danmaku") != 0 || m.Registry() != nil {
		t.Error("a nil handle reported something")
	}
	if ok, _ := m.Health(); !ok {
		t.Error("a nil handle is unhealthy")
	}
}

// TestTotalsSumLabels: Totals adds the labelled series the way the
// summary's numbers are defined.
func TestTotalsSumLabels(t *testing.T) {
	m := New("test")
	for _, s := range []string{"200", "200", "412", roomsource.StatusLimited, roomsource.StatusRisk, roomsource.StatusError, roomsource.StatusBadJSON, "503", roomsource.StatusAPIError} {
		m.HTTPRequest("getDanmuInfo", s)
	}
	m.HTTPNotSent("gethistory", roomsource.NotSentNoBudget)
	m.HTTPNotSent("nav", roomsource.NotSentBreaker)
	m.HTTPNotSent("nav", roomsource.NotSentBreaker)
	m.Session(true)
	m.Session(false)
	m.Session(false)
	m.Event("danmaku")
	m.Event("gift")
	m.Flushed(time.Millisecond, map[string]int64{"danmaku": 3, "gifts": 2}, 1, 4, 0)
	tot := m.Totals()
	want := Totals{HTTPRequests: 9, HTTPRateLimited: 2, HTTPRiskControl: 1, HTTPFailed: 3, HTTPRefused: 2, HTTPSkipped: 1,
		Sessions: 3, Anonymous: 1, LoggedIn: 2, Events: 2, Rows: 5, Updated: 1, Dups: 4, Flushes: 1}
	if tot != want {
		t.Errorf("totals\n got %+v\nwant %+v", tot, want)
	}
	if m.RowsWritten("gifts") != 2 {
		t.Errorf("gifts rows %d, want 2", m.RowsWritten("gifts"))
	}
}

// TestHealthz: 200 with nothing wanted, 503 while rooms are wanted and
// none connected or while flushes fail, 200 again after recovery.
func TestHealthz(t *testing.T) {
	m := New("test")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if strings.Count(string(b), "\n") != 1 {
			t.Errorf("reason is not one line: %q", b)
		}
		return res.StatusCode, string(b)
	}
	if code, body := get(); code != 200 {
		t.Errorf("nothing wanted: %d %s", code, body)
	}
	m.SetDesired([]int64{7})
	if code, body := get(); code != 503 || !strings.Contains(body, "no room connected") {
		t.Errorf("wanted, none connected: %d %s", code, body)
	}
	m.RoomConnected(7, true)
	if code, body := get(); code != 200 {
		t.Errorf("connected: %d %s", code, body)
	}
	m.FlushFailed()
	if code, body := get(); code != 503 || !strings.Contains(body, "flush") {
		t.Errorf("flush failing: %d %s", code, body)
	}
	m.Flushed(time.Millisecond, nil, 0, 0, 0)
	if code, body := get(); code != 200 {
		t.Errorf("flush recovered: %d %s", code, body)
	}
	m.SetFlushDeadline(time.Nanosecond)
	if code, body := get(); code != 200 {
		t.Errorf("nothing pending, deadline passed: %d %s", code, body)
	}
	m.WriterRecord(1)
	if code, body := get(); code != 503 || !strings.Contains(body, "stuck") {
		t.Errorf("records pending past the deadline: %d %s", code, body)
	}
	m.SetFlushDeadline(0)
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `danmakud_build_info{`) {
		t.Errorf("/metrics: %d\n%.500s", res.StatusCode, b)
	}
}

// TestScrapeWhileRoomsConnect: scrapes go on while thousands of rooms
// connect (each connect makes a new series) and change their sampled
// state. Once, a scrape waited for the lock a connecting room held while
// that room waited for the scrape to let go of the per-room vector: every
// connection and every later scrape hung.
func TestScrapeWhileRoomsConnect(t *testing.T) {
	const rooms = 5000
	m := New("test")
	want := make([]int64, rooms)
	for i := range want {
		want[i] = int64(i + 1)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 { // each round's connects make new series
			m.SetDesired(nil)
			m.SetDesired(want)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < rooms; i += 4 {
						room := want[i]
						m.RoomConnected(room, true)
						m.SetRoomSampled(room, room%2 == 0)
					}
				})
			}
			wg.Wait()
		}
	}()
	scrapes := make(chan error)
	go func() {
		for {
			select {
			case <-done:
				close(scrapes)
				return
			default:
			}
			_, err := m.reg.Gather()
			scrapes <- err
		}
	}()
	deadline := time.After(time.Minute)
	n := 0
	for {
		select {
		case err, ok := <-scrapes:
			if !ok {
				if n := testutil.CollectAndCount(m.rooms.roomConnected); n != rooms {
					t.Errorf("%d room_connected series, want %d", n, rooms)
				}
				if got := m.Totals().RoomsSampled; got != rooms/2 {
					t.Errorf("%d rooms sampled, want %d", got, rooms/2)
				}
				t.Logf("%d scrapes while %d rooms connected", n, rooms)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		case <-deadline:
			t.Fatalf("rooms connecting and scrapes still going after a minute (%d scrapes): a lock cycle", n)
		}
	}
}
