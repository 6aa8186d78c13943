package roomsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/roomsource"
)

// pagedList serves getListByAreaID from page lengths: page p (1-based)
// holds lens[p-1] rooms (none past the end); room ids continue across
// pages.
func pagedList(t *testing.T, lens ...int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !strings.HasSuffix(r.URL.Path, "/getListByAreaID") {
			http.NotFound(w, r)
			return
		}
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		rooms := []map[string]any{}
		if p >= 1 && p <= len(lens) {
			first := 1000
			for _, n := range lens[:p-1] {
				first += n
			}
			for i := range lens[p-1] {
				rooms = append(rooms, map[string]any{"roomid": first + i, "online": 1e6 - first - i})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "0", "data": rooms})
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// TestTopRoomsShortPages: a list ends at an empty page or a short one,
// and that end is confirmed; an empty or short page with more rooms after
// it (a truncated answer) fails the whole listing instead of passing as
// a shorter list.
func TestTopRoomsShortPages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lens     []int
		want     int  // rooms
		wantErr  bool // truncated
		requests int64
	}{
		{"ends short", []int{30, 30, 7}, 67, false, 4},
		{"ends at a page boundary", []int{30, 30}, 60, false, 4},
		{"empty area", nil, 0, false, 1},
		{"a server with smaller pages", []int{20, 20, 20, 5}, 65, false, 5},
		{"empty page in the middle", []int{30, 0, 30, 30}, 0, true, 3},
		{"short page in the middle", []int{30, 10, 30, 30}, 0, true, 3},
		{"only what is needed", []int{30, 30, 30, 30}, 45, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := pagedList(t, tc.lens...)
			c := newClient(t, srv.URL, roomsource.Config{})
			want := 100
			if tc.name == "only what is needed" {
				want = 45
			}
			rooms, err := c.TopRooms(context.Background(), want, 0)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "truncated") {
					t.Errorf("got %d rooms, err %v; want a truncated-list error", len(rooms), err)
				}
			} else if err != nil || len(rooms) != tc.want {
				t.Errorf("got %d rooms, err %v; want %d", len(rooms), err, tc.want)
			}
			if n.Load() != tc.requests {
				t.Errorf("%d requests, want %d", n.Load(), tc.requests)
			}
		})
	}
}

// TestDiscoveryEmptyListKeepsTheSet: an empty list once a list had rooms
// is a failed round, however often it comes (nothing torn down, Run sends
// nothing); when a list with rooms returns, the missing ones leave by
// hysteresis as usual. An empty first list is no error (an empty area).
func TestDiscoveryEmptyListKeepsTheSet(t *testing.T) {
	f := &fakeLister{lists: [][]int64{{1, 2, 3}, {}, {}, {}, {1}, {1}}}
	d := &roomsource.Discovery{Lister: f, Top: 3, Hysteresis: 2}
	r, err := d.Refresh1(context.Background())
	if err != nil || fmt.Sprint(ids(r)) != "[1 2 3]" {
		t.Fatalf("round 1: %v, %v", ids(r), err)
	}
	for i := 2; i <= 4; i++ {
		if _, err := d.Refresh1(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("round %d, an empty list after 3 rooms: err %v, want a failed round", i, err)
		}
	}
	for i, want := range []string{"[1 2 3]", "[1]"} {
		r, err = d.Refresh1(context.Background())
		if err != nil || fmt.Sprint(ids(r)) != want {
			t.Fatalf("list [1], round %d: %v, %v; want %s", i+1, ids(r), err, want)
		}
	}
	empty := &roomsource.Discovery{Lister: &fakeLister{lists: [][]int64{{}}}, Top: 3}
	if r, err := empty.Refresh1(context.Background()); err != nil || len(r.Rooms) != 0 {
		t.Errorf("an empty first list: %v, %v", ids(r), err)
	}
}

// TestAPIStorm: every request answered 412 until the storm was met (six
// requests answered 412 to eight callers at once), then recovery. The
// requests sent never exceed the limiter (rate × window + burst in any
// window), the breaker holds callers back during the storm, and every
// caller's calls succeed again after it.
func TestAPIStorm(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 5, HTTPRate: 1000, HTTPBurst: 1000})
	p := testkit.NewAPIFaults(t, s.URL())
	c := newClient(t, p.URL, roomsource.Config{Rate: 10, Burst: 3, BreakerPause: 300 * time.Millisecond, BreakerMax: 600 * time.Millisecond})
	// The timeout only bounds a caller that never gets through.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	room := s.RoomIDs()[0]
	p.Storm.Store(true)
	var wg sync.WaitGroup
	var ok, limited, refused atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for { // until this caller's first success
				_, err := c.DanmuInfo(ctx, room)
				switch {
				case err == nil:
					ok.Add(1)
					return
				case errors.Is(err, roomsource.ErrRateLimited):
					if limited.Add(1) >= 6 {
						p.Storm.Store(false)
					}
				case errors.Is(err, roomsource.ErrBreakerOpen):
					refused.Add(1)
					time.Sleep(20 * time.Millisecond) // a caller's own backoff
				default:
					t.Errorf("DanmuInfo: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 10/s, burst 3: at most 13 in any second.
	best, total := p.MaxInWindow(time.Second)
	if best > 13 {
		t.Errorf("%d requests within one second; the limiter allows 13", best)
	}
	if ok.Load() != 8 {
		t.Errorf("%d of 8 callers got through after the storm ended (412 %d, held back %d)", ok.Load(), limited.Load(), refused.Load())
	}
	if refused.Load() == 0 {
		t.Errorf("the breaker never held a call back during the storm")
	}
	t.Logf("storm: %d requests sent in all, %d answered 412, %d held back by the breaker, %d ok after; max %d in one second",
		total, limited.Load(), refused.Load(), ok.Load(), best)
}

// TestDanmuInfoTimeoutAndKeyRotation: getDanmuInfo hanging past the
// client's timeout fails that call within the timeout (not forever), and
// the calls after the hang work; with WBI keys rotating every 200 ms
// (-352 on stale keys) every call still succeeds, across two rotations.
func TestDanmuInfoTimeoutAndKeyRotation(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3, RotateKeys: 200 * time.Millisecond, HTTPRate: 1000, HTTPBurst: 1000})
	p := testkit.NewAPIFaults(t, s.URL())
	c := newClient(t, p.URL, roomsource.Config{Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	room := s.RoomIDs()[0]
	p.Hang.Store(true)
	start := time.Now()
	if _, err := c.DanmuInfo(ctx, room); err == nil {
		t.Fatal("DanmuInfo succeeded against a hanging server")
	} else if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a hanging getDanmuInfo took %v to fail (timeout 300ms)", took)
	}
	if n := p.Count("getDanmuInfo", testkit.Held); n != 1 {
		t.Errorf("%d getDanmuInfo requests held, want the one", n)
	}
	p.Hang.Store(false)
	before, calls := s.Stats().HTTP352, 0
	testkit.Poll(t, 10*time.Second, "two stale-key refusals (-352)", func() bool {
		if _, err := c.DanmuInfo(ctx, room); err != nil {
			t.Fatalf("call %d after the hang, keys rotating: %v", calls, err)
		}
		calls++
		return s.Stats().HTTP352 >= before+2
	})
}
