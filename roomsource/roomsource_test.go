package roomsource_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/roomsource"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSim(t *testing.T, o livesim.Options) *livesim.Sim {
	t.Helper()
	o.Seed = 7
	s, err := livesim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T, base string, cfg roomsource.Config) *roomsource.Client {
	t.Helper()
	cfg.APIBase = base
	if cfg.Rate == 0 {
		cfg.Rate = 100
		cfg.Burst = 100
	}
	c, err := roomsource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBootstrapAndDanmuInfo(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3})
	c := newClient(t, s.URL(), roomsource.Config{})
	ctx := context.Background()
	room := s.RoomIDs()[0]
	d, err := c.DanmuInfo(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Token) < 100 || len(d.Hosts) == 0 {
		t.Fatalf("danmu info %+v", d)
	}
	if u := c.URL(d, 0); u != "ws://127.0.0.1:"+fmt.Sprint(d.Hosts[0].WsPort)+"/sub" {
		t.Errorf("URL = %s", u)
	}
	if u := c.URL(d, 1); u == c.URL(d, 0) {
		t.Errorf("hosts do not rotate: %s", u)
	}
	buvid, mid := c.Identity()
	if buvid == "" || mid != 0 {
		t.Errorf("identity %q %d", buvid, mid)
	}
	if _, err := c.DanmuInfo(ctx, 12345); !errors.Is(err, roomsource.ErrRoomNotFound) {
		t.Errorf("unknown room: %v", err)
	}
}

func TestLoggedIn(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1})
	c := newClient(t, s.URL(), roomsource.Config{SESSDATA: s.NewSession(31337)})
	if err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, mid := c.Identity(); mid != 31337 {
		t.Errorf("mid %d", mid)
	}
}

func TestKeysRefetchedOn352(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, RotateKeys: 300 * time.Millisecond, HTTPRate: 1e5, HTTPBurst: 1e5})
	c := newClient(t, s.URL(), roomsource.Config{})
	ctx := context.Background()
	if _, err := c.DanmuInfo(ctx, s.RoomIDs()[0]); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().HTTP352
	// Until a stale signature was refused, every call succeeds.
	testkit.Poll(t, 5*time.Second, "a stale signature refused (-352)", func() bool {
		if _, err := c.DanmuInfo(ctx, s.RoomIDs()[0]); err != nil {
			t.Fatalf("DanmuInfo after rotation: %v", err)
		}
		return s.Stats().HTTP352 != before
	})
}

func TestRoomInitResolvesShortIDs(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 6})
	c := newClient(t, s.URL(), roomsource.Config{})
	for short, real := range s.ShortIDs() {
		ri, err := c.RoomInit(context.Background(), short)
		if err != nil || ri.RoomID != real || ri.ShortID != short {
			t.Errorf("RoomInit(%d) = %+v, %v; want %d", short, ri, err, real)
		}
	}
	for _, id := range []int64{0, -5, 424242} {
		if _, err := c.RoomInit(context.Background(), id); !errors.Is(err, roomsource.ErrRoomNotFound) {
			t.Errorf("RoomInit(%d): %v", id, err)
		}
	}
}

func TestTopRoomsPages(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 80})
	c := newClient(t, s.URL(), roomsource.Config{})
	rooms, err := c.TopRooms(context.Background(), 45, 0)
	if err != nil || len(rooms) != 45 {
		t.Fatalf("TopRooms: %d, %v", len(rooms), err)
	}
	for i := 1; i < len(rooms); i++ {
		if rooms[i].Online > rooms[i-1].Online*2 {
			t.Errorf("not sorted by online at %d", i)
		}
	}
	all, err := c.TopRooms(context.Background(), 500, 0)
	if err != nil || len(all) != 80 {
		t.Errorf("list end: %d rooms, %v", len(all), err)
	}
}

// pagedServer serves a room list of total rooms, 30 a page, whose page 2
// fails (504) while fail is set; failed counts those failures.
type pagedServer struct {
	*httptest.Server
	fail   atomic.Bool
	failed atomic.Int64
}

func newPagedServer(t *testing.T, total int) *pagedServer {
	p := &pagedServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		if page == "2" && p.fail.Load() {
			p.failed.Add(1)
			http.Error(w, "upstream timeout", http.StatusGatewayTimeout)
			return
		}
		var n int
		fmt.Sscan(page, &n)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"code":0,"data":[`)
		for i := 0; i < 30; i++ {
			id := (n-1)*30 + i
			if id >= total {
				break
			}
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"roomid":%d,"online":%d,"uname":"u","title":"t"}`, 1000+id, 100000-id)
		}
		fmt.Fprint(w, `]}`)
	}))
	t.Cleanup(p.Close)
	return p
}

func TestPartialDiscoveryFailureSendsNothing(t *testing.T) {
	srv := newPagedServer(t, 100)
	c := newClient(t, srv.URL, roomsource.Config{})
	d := &roomsource.Discovery{Lister: c, Top: 50}
	r, err := d.Refresh1(context.Background())
	if err != nil || len(r.Rooms) != 50 {
		t.Fatalf("good round: %d rooms, %v", len(r.Rooms), err)
	}
	srv.fail.Store(true)
	if _, err := d.Refresh1(context.Background()); err == nil {
		t.Fatal("a failed page 2 did not fail the round")
	}
	// Run sends nothing for failed rounds. Once page 2 has failed a sixth
	// time, the first five rounds are over and would have sent by now.
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan roomsource.Round, 4)
	d2 := &roomsource.Discovery{Lister: c, Top: 50, Refresh: time.Millisecond}
	done := make(chan struct{})
	go func() { d2.Run(ctx, out); close(done) }()
	failed := srv.failed.Load()
	testkit.Poll(t, 5*time.Second, "five failed rounds", func() bool { return srv.failed.Load() >= failed+6 })
	select {
	case r := <-out:
		t.Fatalf("a round was sent while page 2 failed: %d rooms", len(r.Rooms))
	default:
	}
	srv.fail.Store(false)
	select {
	case r := <-out:
		if len(r.Rooms) != 50 {
			t.Errorf("recovered round has %d rooms", len(r.Rooms))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no round after recovery")
	}
	cancel()
	<-done
}

type fakeLister struct{ lists [][]int64 }

func (f *fakeLister) TopRooms(_ context.Context, n int, _ int64) ([]roomsource.Room, error) {
	ids := f.lists[0]
	if len(f.lists) > 1 {
		f.lists = f.lists[1:]
	}
	var out []roomsource.Room
	for _, id := range ids {
		out = append(out, roomsource.Room{RoomID: id})
	}
	return out, nil
}

func ids(r roomsource.Round) []int64 {
	var out []int64
	for _, t := range r.Rooms {
		out = append(out, t.RoomID)
	}
	return out
}

func TestHysteresis(t *testing.T) {
	f := &fakeLister{lists: [][]int64{{1, 2, 3}, {1, 2, 4}, {1, 2, 4}, {1, 2, 4}, {1, 2, 4}}}
	d := &roomsource.Discovery{Lister: f, Top: 3, Hysteresis: 3, Fixed: []int64{9}}
	want := [][]int64{{1, 2, 3, 9}, {1, 2, 3, 4, 9}, {1, 2, 3, 4, 9}, {1, 2, 4, 9}, {1, 2, 4, 9}}
	for i, w := range want {
		r, err := d.Refresh1(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(r)) != fmt.Sprint(w) {
			t.Errorf("round %d: %v, want %v", i+1, ids(r), w)
		}
	}
}

func TestBreakerOn412Storm(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, HTTP412: 1})
	c := newClient(t, s.URL(), roomsource.Config{Rate: 20, Burst: 2, BreakerPause: 100 * time.Millisecond, BreakerMax: 100 * time.Millisecond})
	ctx := context.Background()
	start := time.Now()
	var limited, open int
	for time.Since(start) < time.Second {
		_, err := c.RoomInit(ctx, 1)
		switch {
		case errors.Is(err, roomsource.ErrRateLimited):
			limited++
		case errors.Is(err, roomsource.ErrBreakerOpen):
			open++
			time.Sleep(5 * time.Millisecond) // a caller backing off, as the discovery loop does
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	sent := s.Stats().HTTPRequests
	// The limiter alone would allow ~22 requests in a second; the breaker
	// lets one probe through per 100 ms pause.
	if sent > 12 || sent < 2 {
		t.Errorf("%d requests reached the server during a 1 s 412 storm (limited %d, refused locally %d)", sent, limited, open)
	}
	if open == 0 {
		t.Error("the breaker never refused locally")
	}
}

// notSentCounter is an Observer that counts the requests not sent, by
// reason.
type notSentCounter struct {
	mu      sync.Mutex
	notSent map[string]int
}

func (o *notSentCounter) HTTPRequest(endpoint, status string) {}

func (o *notSentCounter) HTTPNotSent(endpoint, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.notSent == nil {
		o.notSent = map[string]int{}
	}
	o.notSent[reason]++
}

func (o *notSentCounter) count(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.notSent[reason]
}

// History is a background request: it never queues for the limiter, so
// with many rooms' watchdogs asking it cannot delay a reconnect's token
// fetch or a discovery page.
func TestHistoryUsesOnlySpareBudget(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1})
	obs := &notSentCounter{}
	c := newClient(t, s.URL(), roomsource.Config{Rate: 4, Burst: 1, Observer: obs})
	ctx := context.Background()
	room := s.RoomIDs()[0]
	if _, err := c.RoomInit(ctx, room); err != nil { // takes the one token
		t.Fatal(err)
	}
	before := s.Stats().HTTPRequests
	if _, err := c.History(ctx, room); !errors.Is(err, roomsource.ErrNoSpareBudget) {
		t.Fatalf("History with no token free: %v, want ErrNoSpareBudget", err)
	}
	if got := s.Stats().HTTPRequests; got != before {
		t.Fatalf("a skipped History reached the server (%d -> %d requests)", before, got)
	}
	// A waiting request is served before any background one.
	done := make(chan error, 1)
	go func() { _, err := c.RoomInit(ctx, room); done <- err }()
	skipped := 0
	testkit.Poll(t, 5*time.Second, "the waiting RoomInit", func() bool {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
		}
		if _, err := c.History(ctx, room); err == nil {
			t.Fatal("a History request went out while another request was waiting for the limiter")
		}
		skipped++
		return false
	})
	if got := obs.count(roomsource.NotSentNoBudget); got != skipped+1 {
		t.Errorf("%d requests reported not sent for want of budget, want %d", got, skipped+1)
	}
	// With budget to spare it goes out.
	c2 := newClient(t, s.URL(), roomsource.Config{})
	if _, err := c2.History(ctx, room); err != nil {
		t.Errorf("History with budget to spare: %v", err)
	}
}

// Whole-site listings: --top beyond 3,000 (once a fixed page cap) gets
// every room it asks for.
func TestTopRoomsBeyondThreeThousand(t *testing.T) {
	srv := newPagedServer(t, 4000)
	c := newClient(t, srv.URL, roomsource.Config{Rate: 10000, Burst: 10000})
	rooms, err := c.TopRooms(context.Background(), 3500, 0)
	if err != nil || len(rooms) != 3500 {
		t.Fatalf("TopRooms(3500) of 4000: %d rooms, %v", len(rooms), err)
	}
	all, err := c.TopRooms(context.Background(), 10000, 0)
	if err != nil || len(all) != 4000 {
		t.Fatalf("TopRooms(10000) of 4000: %d rooms, %v", len(all), err)
	}
}
