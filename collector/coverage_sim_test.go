package collector

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// apiWithAccounts returns a roomsource client logged in with the
// simulator's first n accounts (through cookie files, as collect does).
func apiWithAccounts(t *testing.T, s *livesim.Sim, n int) *roomsource.Client {
	t.Helper()
	var accts []*roomsource.Account
	for i := 1; i <= n; i++ {
		f := filepath.Join(t.TempDir(), fmt.Sprintf("account-%d.txt", i))
		if err := roomsource.WriteCookieFile(f, s.AccountCookies(i)); err != nil {
			t.Fatal(err)
		}
		a, err := roomsource.LoadCookieFile(f)
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a)
	}
	c, err := roomsource.New(roomsource.Config{APIBase: s.URL(), Rate: 500, Burst: 500, Accounts: accts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runCollector runs a collector on the given rooms until until says so,
// then returns it, the totals of what it did (from a metrics handle as
// its Observer) and every record it sent.
func runCollector(t *testing.T, cfg Config, rooms []int64, until func(c *Collector, m metrics.Totals) bool) (*Collector, metrics.Totals, []storage.Record) {
	t.Helper()
	ch := make(chan storage.Record, 1<<16)
	get, closeCh := drain(ch)
	mx := metrics.New("test")
	j, err := journal.Open(journal.Options{Dir: t.TempDir(), Run: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out, cfg.Observer, cfg.Journal, cfg.RunID = ch, mx, j, 1
	c := New(cfg)
	decoded := make(chan error, 1)
	go func() { decoded <- c.Decode(context.Background(), journal.Pos{}) }()
	ctx, cancel := context.WithCancel(context.Background())
	rounds := make(chan roomsource.Round, 1)
	rounds <- roomsource.Round{N: 1, Rooms: targets(rooms...)}
	done := make(chan struct{})
	go func() { c.Run(ctx, rounds); close(done) }()
	stop := func() {
		cancel()
		<-done
		j.Close() // every reader has stopped; the decoder drains the rest
		if err := <-decoded; err != nil {
			t.Errorf("decode: %v", err)
		}
		closeCh()
	}
	reached := testkit.Until(60*time.Second, func() bool { return until(c, mx.Totals()) })
	stop()
	if !reached {
		t.Fatalf("condition not reached in time; metrics %s", totalsOf(mx.Totals()))
	}
	return c, mx.Totals(), get()
}

func totalsOf(m metrics.Totals) string {
	return fmt.Sprintf("sessions %d (logged in %d, anonymous %d), starved %d, events %d, acks %d",
		m.Sessions, m.LoggedIn, m.Anonymous, m.Recycles, m.Events, m.Acks)
}

// collectFor runs a collector on rooms for d (the traffic window plus
// what the coverage checks need to judge its last items).
func collectFor(t *testing.T, cfg Config, rooms []int64, d time.Duration) (*Collector, metrics.Totals, []storage.Record) {
	t.Helper()
	stop := time.Now().Add(d)
	return runCollector(t, cfg, rooms, func(*Collector, metrics.Totals) bool { return time.Now().After(stop) })
}

// coverageCfg checks coverage often, so that short tests judge enough
// history items.
func coverageCfg(api API, accounts int) Config {
	return Config{API: api, Accounts: accounts, WatchEvery: 2 * time.Second, WatchMin: 500 * time.Millisecond,
		Spread: time.Millisecond, BackoffMin: 10 * time.Millisecond, HeartbeatInterval: time.Second}
}

const trafficWindow = 12 * time.Second

// settleTime is how long after the traffic stops the last history items
// take to be judged: watchSettle, then at most one check interval.
const settleTime = watchSettle + 3*time.Second

// trueCoverage is a room's true coverage by the simulator's truth
// (delivered / generated danmaku) and whether the room generated the 30
// danmaku an estimate is held to.
func trueCoverage(truth livesim.Truth, room int64) (cov float64, generated int64, ok bool) {
	k := strconv.FormatInt(room, 10)
	generated = truth.Generated[k]["danmaku"]
	if generated < 30 {
		return 0, generated, false
	}
	return float64(truth.Rooms[k]["danmaku"]) / float64(generated), generated, true
}

// checkEstimates compares each room's coverage estimate with the truth
// (delivered / generated danmaku) for rooms with at least 30 generated
// danmaku, and returns the mean absolute error.
func checkEstimates(t *testing.T, s *livesim.Sim, c *Collector, want float64) float64 {
	t.Helper()
	truth := s.Truth()
	var sum float64
	var n int
	for room, cc := range c.Coverage() {
		trueCov, gen, ok := trueCoverage(truth, room)
		if !ok {
			continue
		}
		est, ok := cc.Estimate(time.Now())
		if !ok {
			// Fewer than storage.MinCoverageSamples judged items: null
			// is the right answer, not a wrong one.
			t.Logf("room %d: no estimate yet (%d judged, %d danmaku generated)", room, cc.Judged.Load(), gen)
			continue
		}
		if math.Abs(est-trueCov) > 0.10 {
			t.Errorf("room %d: estimated coverage %.3f (%d/%d judged), true %.3f of %d generated", room, est,
				cc.Arrived.Load(), cc.Judged.Load(), trueCov, gen)
		}
		if math.Abs(trueCov-want) > 0.15 {
			t.Errorf("room %d: true coverage %.3f, expected about %.2f", room, trueCov, want)
		}
		sum += math.Abs(est - trueCov)
		n++
	}
	if n < 2 {
		t.Fatalf("%d rooms with 30 generated danmaku have an estimate; want at least 2", n)
	}
	t.Logf("%d rooms: mean absolute error of the coverage estimate %.3f", n, sum/float64(n))
	return sum / float64(n)
}

// TestCoverageAnonymous: an anonymous run gets a ~10 % sample; the
// estimate is right within ±0.10 per room, and no connection is recycled
// for being a sample.
func TestCoverageAnonymous(t *testing.T) {
	t.Parallel()
	s, err := livesim.New(livesim.Options{Rooms: 4, Rate: 250, Tick: 50 * time.Millisecond, AnonKeep: 0.1,
		TrafficFor: trafficWindow, HTTPRate: 1000, HTTPBurst: 1000, RedPocketEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, m, recs := collectFor(t, coverageCfg(apiFor(t, s), 0), s.RoomIDs(), trafficWindow+settleTime)
	checkEstimates(t, s, c, 0.1)
	if n := m.Recycles; n != 0 {
		t.Errorf("%d anonymous connections recycled for being a sample", n)
	}
	for _, r := range recs {
		if cr, ok := r.(storage.Conn); ok && cr.AuthedMs != 0 && (!cr.Anonymous || !cr.Sampled || cr.UID != 0) {
			t.Errorf("anonymous connection recorded as %+v", cr)
		}
	}
	if v := s.Violations(); v != 0 {
		t.Errorf("%d identity violations", v)
	}
}

// TestCoverageLoggedInAndBudget: two accounts with a budget of two rooms
// each watch four rooms in full; the fifth is watched anonymously and
// marked sampled. Estimates match the truth either way, acks are sent.
func TestCoverageLoggedInAndBudget(t *testing.T) {
	t.Parallel()
	s, err := livesim.New(livesim.Options{Rooms: 5, Rate: 400, Tick: 50 * time.Millisecond, AnonKeep: 0.1, Accounts: 2,
		TrafficFor: trafficWindow, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := coverageCfg(apiWithAccounts(t, s, 2), 2)
	cfg.RoomsPerAccount = 2
	c, m, recs := collectFor(t, cfg, s.RoomIDs(), trafficWindow+settleTime)
	mids := map[int64]bool{s.AccountMid(1): true, s.AccountMid(2): true}
	perUID := map[int64]map[int64]bool{}
	for _, r := range recs {
		cr, ok := r.(storage.Conn)
		if !ok || cr.AuthedMs == 0 {
			continue
		}
		if cr.UID != 0 && !mids[cr.UID] {
			t.Errorf("connection authenticated as uid %d, not one of the accounts", cr.UID)
		}
		if (cr.UID == 0) != cr.Anonymous || cr.Anonymous != cr.Sampled {
			t.Errorf("connection flags %+v", cr)
		}
		if perUID[cr.UID] == nil {
			perUID[cr.UID] = map[int64]bool{}
		}
		perUID[cr.UID][cr.RoomID] = true
	}
	for mid := range mids {
		if len(perUID[mid]) != 2 {
			t.Errorf("account %d watched %d rooms, want its budget of 2", mid, len(perUID[mid]))
		}
	}
	if len(perUID[0]) != 1 {
		t.Errorf("%d rooms anonymous, want 1 (beyond both budgets)", len(perUID[0]))
	}
	truth := s.Truth()
	for room, cc := range c.Coverage() {
		trueCov, _, ok := trueCoverage(truth, room)
		if !ok {
			continue
		}
		est, ok := cc.Estimate(time.Now())
		// A logged-in room must have an estimate by now (the simulator's
		// rate gives each the storage.MinCoverageSamples judged items it
		// needs); the anonymous one may still be null.
		if (!ok && !perUID[0][room]) || (ok && math.Abs(est-trueCov) > 0.10) {
			t.Errorf("room %d: estimate %.3f (ok %v, %d judged), true %.3f", room, est, ok, cc.Judged.Load(), trueCov)
		}
		t.Logf("room %d: estimate %.3f (ok %v, %d judged), true %.3f", room, est, ok, cc.Judged.Load(), trueCov)
		if perUID[0][room] != cc.Sampled.Load() {
			t.Errorf("room %d: sampled %v", room, cc.Sampled.Load())
		}
		// Not 1: the truth counts from the simulator's start, the first
		// connection authenticates up to a second or two later on a busy
		// machine (the estimate counts from the room's discovery).
		if !perUID[0][room] && trueCov < 0.90 {
			t.Errorf("logged-in room %d got only %.3f of its danmaku", room, trueCov)
		}
	}
	if m.Acks == 0 || s.Acks() == 0 {
		t.Errorf("no acks: sent %d, simulator counted %d", m.Acks, s.Acks())
	}
	if v := s.Violations(); v != 0 {
		t.Errorf("%d identity violations", v)
	}
}

// TestLowCoveragePolicy: a logged-in connection the server throttles is
// replaced once; when the replacement is low too the room is marked
// sampled and kept, not recycled in a loop.
func TestLowCoveragePolicy(t *testing.T) {
	s, err := livesim.New(livesim.Options{Rooms: 1, Rate: 200, Tick: 20 * time.Millisecond, Accounts: 1,
		Throttle: 1, ThrottleKeep: 0.1, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := coverageCfg(apiWithAccounts(t, s, 1), 1)
	cfg.WatchEvery, cfg.WatchMin = time.Second, 300*time.Millisecond
	room := s.RoomIDs()[0]
	_, m, recs := runCollector(t, cfg, []int64{room}, func(c *Collector, _ metrics.Totals) bool {
		cc := c.Coverage()[room]
		return cc != nil && cc.Sampled.Load()
	})
	if n := m.Recycles; n != 1 {
		t.Errorf("%d recycles; want exactly one replacement before the room is marked sampled", n)
	}
	var sampled bool
	for _, r := range recs {
		if cr, ok := r.(storage.Conn); ok && cr.Sampled && !cr.Anonymous {
			sampled = true
		}
	}
	if !sampled || endReasons(recs)["starved"] != 1 {
		t.Errorf("connections: sampled %v, end reasons %v", sampled, endReasons(recs))
	}
}

// TestLoggedInOnly: with --logged-in-only, a room beyond every account's
// budget is not watched anonymously: it waits for a slot.
func TestLoggedInOnly(t *testing.T) {
	s, err := livesim.New(livesim.Options{Rooms: 3, Rate: 50, Accounts: 1, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := coverageCfg(apiWithAccounts(t, s, 1), 1)
	cfg.RoomsPerAccount, cfg.LoggedInOnly = 2, true
	_, m, recs := runCollector(t, cfg, s.RoomIDs(), func(_ *Collector, m metrics.Totals) bool {
		return m.Sessions >= 2 && m.RoomsWaiting == 1
	})
	if n := m.Anonymous; n != 0 {
		t.Errorf("%d anonymous sessions with --logged-in-only", n)
	}
	rooms := map[int64]bool{}
	for _, r := range recs {
		if cr, ok := r.(storage.Conn); ok {
			rooms[cr.RoomID] = true
			if cr.AuthedMs != 0 && cr.UID != s.AccountMid(1) {
				t.Errorf("connection as uid %d", cr.UID)
			}
		}
	}
	if len(rooms) != 2 {
		t.Errorf("%d rooms connected, want the budget of 2", len(rooms))
	}
}
