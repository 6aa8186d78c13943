package daemon_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
)

// reconnectGapsAfterWarmUp returns, sorted, the gap in milliseconds
// between the end of each connection and the authentication of the same
// room's next one, from the connections table of one run, counting only
// connections that ended after every room's first auth (the start-up
// queue for first tokens is not a reconnect gap); warm is that moment
// (Unix ms).
func reconnectGapsAfterWarmUp(t *testing.T, db string) (gaps []int64, warm int64) {
	t.Helper()
	d, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SQL.QueryRow(`SELECT max(first) FROM (SELECT min(authed_ms) AS first FROM connections WHERE authed_ms IS NOT NULL GROUP BY room_id)`).Scan(&warm); err != nil {
		t.Fatal(err)
	}
	rows, err := d.SQL.Query(`SELECT room_id, started_ms, authed_ms, ended_ms FROM connections ORDER BY room_id, started_ms, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lastRoom, lastEnd int64 = -1, 0
	for rows.Next() {
		var room, started int64
		var authed, ended *int64
		if err := rows.Scan(&room, &started, &authed, &ended); err != nil {
			t.Fatal(err)
		}
		if room != lastRoom {
			lastRoom, lastEnd = room, 0
		}
		if authed == nil { // a failed attempt: the gap runs on to the next auth
			continue
		}
		if lastEnd > warm {
			gaps = append(gaps, *authed-lastEnd)
		}
		lastEnd = 0
		if ended != nil {
			lastEnd = *ended
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return gaps, warm
}

func quantile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return time.Duration(sorted[i]) * time.Millisecond
}

// TestReconnectGaps: 30 rooms whose connections the server drops every
// few seconds (CI: 10 rooms), default --http-rate 2 and default backoff: the time from a
// connection's end to its replacement's auth (the coverage lost) has a
// median ≤ 1.5 s and a p99 ≤ 5 s, and the HTTP requests stay within the
// limiter's budget. CI: drops every ~3 s for 15 s (sessions scaled down,
// so HealthyAfter 1.5 s); soak
// (DANMAKUD_SOAK=1): every ~10 s for 5 minutes.
func TestReconnectGaps(t *testing.T) {
	rooms, dropEvery, runFor, healthy, spread := 10, 3*time.Second, 15*time.Second, 1500*time.Millisecond, 2*time.Second
	if testkit.Soak() { // the real defaults: HealthyAfter 5s, Spread 10s
		rooms, dropEvery, runFor, healthy, spread = 30, 10*time.Second, 5*time.Minute, 0, 0
	}
	// DANMAKUD_HEALTHY_AFTER and DANMAKUD_SOAK_FOR override the
	// collector's HealthyAfter and the run's length (to measure a policy).
	if v, err := time.ParseDuration(os.Getenv("DANMAKUD_HEALTHY_AFTER")); err == nil {
		healthy = v
	}
	if v, err := time.ParseDuration(os.Getenv("DANMAKUD_SOAK_FOR")); err == nil && testkit.Soak() {
		runFor = v
	}
	sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: 100, Seed: 11, DropEvery: dropEvery,
		HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "gaps.db")
	// The defaults of collect's flags (the zero Config), except a shorter
	// HealthyAfter and Spread in CI, where sessions are shorter.
	cfg := daemon.Config{DB: db, Top: rooms, Duration: runFor, FlushInterval: time.Second, APIBase: sim.URL(),
		Watchdog: -1, // off: coverage checks would spend the request budget
		Tuning:   daemon.Tuning{HealthyAfter: healthy, Spread: spread}}
	start := time.Now()
	testrun.Collect(t, cfg)
	took := time.Since(start)
	st := sim.Stats()
	gaps, warm := reconnectGapsAfterWarmUp(t, db)
	med, p90, p99 := quantile(gaps, 0.5), quantile(gaps, 0.9), quantile(gaps, 0.99)
	t.Logf("%d rooms, drop every ~%v, %v (every room authed after %v): %d reconnects, gap median %v p90 %v p99 %v max %v; sim drops %d, HTTP %d requests in %v",
		rooms, dropEvery, runFor, time.UnixMilli(warm).Sub(start).Round(time.Millisecond), len(gaps), med, p90, p99, quantile(gaps, 1), st.Drops, st.HTTPRequests, took.Round(time.Millisecond))
	if len(gaps) < rooms {
		t.Fatalf("only %d reconnects measured; the drops did not happen", len(gaps))
	}
	if med > 1500*time.Millisecond {
		t.Errorf("median reconnect gap %v > 1.5s", med)
	}
	if p99 > 5*time.Second {
		t.Errorf("p99 reconnect gap %v > 5s", p99)
	}
	// The limiter: 2/s with a burst of 4 over the whole run (bootstrap
	// included), plus one request of slack for timing at the edges.
	if budget := int64(2*took.Seconds()) + 4 + 1; st.HTTPRequests > budget {
		t.Errorf("%d HTTP requests in %v: over the limiter's budget of %d", st.HTTPRequests, took, budget)
	}
	if st.HTTP412 != 0 {
		t.Errorf("%d requests answered 412", st.HTTP412)
	}
}
