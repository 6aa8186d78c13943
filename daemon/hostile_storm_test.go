package daemon_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
)

// TestCollectAPIStorm: a running collect meets 412 on every request for
// 2 s, then an empty room list for 1.5 s, while the simulator drops
// connections and refuses some auths (so rooms need new tokens). The
// requests never exceed the limiter, no room is torn down by the failed
// or suspicious discovery rounds, and every room is connected again
// after the API recovers.
func TestCollectAPIStorm(t *testing.T) {
	t.Parallel()
	sim, err := livesim.New(livesim.Options{Rooms: 5, Rate: 200, Seed: 21, DropEvery: 1500 * time.Millisecond,
		AuthReject: 0.2, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	faults := testkit.NewAPIFaults(t, sim.URL())
	db := filepath.Join(t.TempDir(), "storm.db")
	cfg := daemon.Config{DB: db, Top: 5, Duration: 9 * time.Second, FlushInterval: 500 * time.Millisecond,
		Refresh: 300 * time.Millisecond, APIBase: faults.URL, HTTPRate: 4, Heartbeat: time.Second,
		FinalFlushTimeout: 30 * time.Second, Tuning: daemon.Tuning{Spread: 200 * time.Millisecond,
			BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, HealthyAfter: 500 * time.Millisecond,
			BreakerPause: 300 * time.Millisecond}}
	start := time.Now()
	var stormEnd, listEnd time.Time
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		time.Sleep(2 * time.Second)
		faults.Storm.Store(true)
		time.Sleep(2 * time.Second)
		faults.EmptyList.Store(true)
		stormEnd = time.Now()
		faults.Storm.Store(false)
		time.Sleep(1500 * time.Millisecond)
		listEnd = time.Now()
		faults.EmptyList.Store(false)
	}()
	testrun.Collect(t, cfg)
	<-faultsDone
	deadline := start.Add(cfg.Duration)
	// collect's limiter: 4/s, burst 8 → at most 12 in any second.
	best, total := faults.MaxInWindow(time.Second)
	if best > 12 {
		t.Errorf("%d requests within one second; the limiter allows 12", best)
	}
	d, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var after, tornDown, storm412 int
	// Connected after the API recovered: a connection authenticated and
	// still up after the storm and the empty list (a new one, or one that
	// survived them).
	d.SQL.QueryRow("SELECT count(DISTINCT room_id) FROM connections WHERE authed_ms IS NOT NULL AND coalesce(ended_ms, ?1 + 1) > ?1",
		listEnd.UnixMilli()).Scan(&after)
	// A room removed by discovery has its connection ended "stopped"
	// before the run's end.
	d.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'stopped' AND ended_ms < ?", deadline.Add(-100*time.Millisecond).UnixMilli()).Scan(&tornDown)
	d.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'rate_limited'").Scan(&storm412)
	t.Logf("storm %v–%v, empty list until %v: %d HTTP requests, max %d in one second; %d attempts refused by 412/breaker; %d rooms connected after recovery",
		time.Duration(2*time.Second), stormEnd.Sub(start).Round(time.Millisecond), listEnd.Sub(start).Round(time.Millisecond), total, best, storm412, after)
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
