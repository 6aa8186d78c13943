package daemon_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// TestCollectAPIStorm: a running collect meets 412 on every request, then
// an empty room list, while the simulator drops connections and refuses
// some auths (so rooms need new tokens). What happened switches the
// faults, not the clock: the storm starts once every room is connected
// and ends once a reconnect and two discovery rounds have met it; the
// empty list ends once three rounds got it; the run ends once every room
// is connected again and two rounds have gone through since. The requests
// never exceed the limiter, no room is torn down by the failed or
// suspicious discovery rounds, and every room is connected again after
// the API recovers.
func TestCollectAPIStorm(t *testing.T) {
	t.Parallel()
	sim, err := livesim.New(livesim.Options{Rooms: 5, Rate: 200, Seed: 21, DropEvery: 1500 * time.Millisecond,
		AuthReject: 0.2, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	faults := testkit.NewAPIFaults(t, sim.URL())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	db := filepath.Join(t.TempDir(), "storm.db")
	cfg := daemon.Config{DB: db, Top: 5, FlushInterval: 500 * time.Millisecond, MetricsListener: ln,
		Refresh: 300 * time.Millisecond, APIBase: faults.URL, HTTPRate: 4, Heartbeat: time.Second,
		FinalFlushTimeout: 30 * time.Second, Tuning: daemon.Tuning{Spread: 200 * time.Millisecond,
			BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, HealthyAfter: 500 * time.Millisecond,
			BreakerPause: 300 * time.Millisecond}}
	start := time.Now()
	run := testrun.Start(t, cfg)
	d := run.D
	const list = "getListByAreaID"

	testkit.Poll(t, 20*time.Second, "every room connected before the storm", func() bool { return d.Totals().RoomsConnected == 5 })
	stormStart := time.Now()
	faults.Storm.Store(true)
	testkit.Poll(t, 30*time.Second, "a reconnect and two discovery rounds meeting the storm", func() bool {
		m := testkit.Scrape(t, addr)
		reconnects := testkit.MetricValue(m, "danmakud_reconnects_total", "reason", "rate_limited")
		rounds := testkit.MetricValue(m, "danmakud_http_requests_total", "endpoint", list, "status", "412") +
			testkit.MetricValue(m, "danmakud_http_requests_not_sent_total", "endpoint", list, "reason", roomsource.NotSentBreaker)
		return reconnects >= 1 && rounds >= 2
	})
	faults.EmptyList.Store(true)
	stormEnd := time.Now()
	faults.Storm.Store(false)
	testkit.Poll(t, 30*time.Second, "three discovery rounds answered an empty list", func() bool {
		return faults.Count(list, testkit.Emptied) >= 3
	})
	listEnd := time.Now()
	faults.EmptyList.Store(false)
	through := faults.Count(list, testkit.Forwarded)
	testkit.Poll(t, 30*time.Second, "every room connected again and two discovery rounds through after the faults", func() bool {
		return d.Totals().RoomsConnected == 5 && faults.Count(list, testkit.Forwarded) >= through+2
	})
	stopAt := time.Now()
	if _, err := run.Stop(); err != nil {
		t.Fatalf("collect: %v", err)
	}

	// collect's limiter: 4/s, burst 8 → at most 12 in any second.
	best, total := faults.MaxInWindow(time.Second)
	if best > 12 {
		t.Errorf("%d requests within one second; the limiter allows 12", best)
	}
	ro, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var after, tornDown, storm412 int
	// Connected after the API recovered: a connection authenticated and
	// still up after the storm and the empty list (a new one, or one that
	// survived them).
	ro.SQL.QueryRow("SELECT count(DISTINCT room_id) FROM connections WHERE authed_ms IS NOT NULL AND coalesce(ended_ms, ?1 + 1) > ?1",
		listEnd.UnixMilli()).Scan(&after)
	// A room removed by discovery has its connection ended "stopped"
	// before the run's end.
	ro.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'stopped' AND ended_ms < ?", stopAt.Add(-100*time.Millisecond).UnixMilli()).Scan(&tornDown)
	ro.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'rate_limited'").Scan(&storm412)
	ms := func(t time.Time) time.Duration { return t.Sub(start).Round(time.Millisecond) }
	t.Logf("storm %v–%v, empty list until %v, stopped at %v: %d HTTP requests, max %d in one second; %d attempts refused by 412/breaker; %d rooms connected after recovery",
		ms(stormStart), ms(stormEnd), ms(listEnd), ms(stopAt), total, best, storm412, after)
	if after != 5 {
		t.Errorf("%d of 5 rooms connected again after the API recovered", after)
	}
	if tornDown != 0 {
		t.Errorf("%d connections stopped before the run's end: a failed or empty discovery round tore rooms down", tornDown)
	}
	if storm412 == 0 {
		t.Errorf("no reconnect met the storm: the test tested nothing")
	}
}
