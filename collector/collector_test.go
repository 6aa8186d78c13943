package collector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeRunner records its lifetime; it blocks until its context ends.
// With hold set it is slow to stop: it sends its id on stopping, then
// waits for hold to close before it exits.
type fakeRunner struct {
	id       int64
	log      *eventLog
	stopping chan<- int64
	hold     <-chan struct{}
}

type eventLog struct {
	mu sync.Mutex
	ev []string
}

func (l *eventLog) add(s string) { l.mu.Lock(); l.ev = append(l.ev, s); l.mu.Unlock() }
func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ev...)
}

func (f *fakeRunner) Run(ctx context.Context) {
	f.log.add(fmt.Sprintf("start %d", f.id))
	<-ctx.Done()
	if f.hold != nil {
		f.stopping <- f.id
		<-f.hold
	}
	f.log.add(fmt.Sprintf("exit %d", f.id))
}

func targets(ids ...int64) []roomsource.Target {
	var out []roomsource.Target
	for _, id := range ids {
		out = append(out, roomsource.Target{RoomID: id})
	}
	return out
}

func TestReconcile(t *testing.T) {
	log := &eventLog{}
	stopping, hold := make(chan int64, 4), make(chan struct{})
	s := NewSupervisor(func(t roomsource.Target) Runner {
		return &fakeRunner{id: t.RoomID, log: log, stopping: stopping, hold: hold}
	}, nil)
	ctx := context.Background()
	if st, sp := s.Reconcile(ctx, targets(1, 2, 3)); st != 3 || sp != 0 {
		t.Fatalf("first: started %d stopped %d", st, sp)
	}
	// Same set again: nothing restarts.
	if st, sp := s.Reconcile(ctx, targets(3, 2, 1)); st != 0 || sp != 0 {
		t.Fatalf("same set: started %d stopped %d", st, sp)
	}
	// Room 2 leaves and is slow to stop: Reconcile returns only after it
	// has exited.
	changed := make(chan [2]int, 1)
	go func() { st, sp := s.Reconcile(ctx, targets(1, 3, 4)); changed <- [2]int{st, sp} }()
	if id := <-stopping; id != 2 {
		t.Fatalf("room %d stopping, want 2", id)
	}
	select {
	case <-changed:
		t.Fatal("Reconcile returned while room 2's worker was still stopping")
	default:
	}
	close(hold)
	if n := <-changed; n != [2]int{1, 1} {
		t.Fatalf("change: started %d stopped %d", n[0], n[1])
	}
	found := false
	for _, e := range log.get() {
		if e == "exit 2" {
			found = true
		}
	}
	if !found {
		t.Errorf("Reconcile returned before room 2's worker exited: %v", log.get())
	}
	s.StopAll()
	ev := log.get()
	sort.Strings(ev)
	if fmt.Sprint(ev) != "[exit 1 exit 2 exit 3 exit 4 start 1 start 2 start 3 start 4]" {
		t.Errorf("lifetimes: %v", ev)
	}
}

func TestStopBeforeStart(t *testing.T) {
	log := &eventLog{}
	started := make(chan struct{})
	s := NewSupervisor(func(t roomsource.Target) Runner {
		close(started)
		return &fakeRunner{id: t.RoomID, log: log}
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the parent is gone before the worker even starts
	s.Reconcile(ctx, targets(7))
	<-started
	s.StopAll() // must not hang
	if s.Running() != 0 {
		t.Errorf("running %d", s.Running())
	}
}

func TestRunCoalescesAndSurvivesSilence(t *testing.T) {
	log := &eventLog{}
	s := NewSupervisor(func(t roomsource.Target) Runner { return &fakeRunner{id: t.RoomID, log: log} }, nil)
	rounds := make(chan roomsource.Round, 3)
	// Three rounds queued at once: only the latest is applied.
	rounds <- roomsource.Round{N: 1, Rooms: targets(1)}
	rounds <- roomsource.Round{N: 2, Rooms: targets(2)}
	rounds <- roomsource.Round{N: 3, Rooms: targets(3)}
	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan int, 3)
	done := make(chan struct{})
	go func() {
		s.Run(ctx, rounds, func(r roomsource.Round) []roomsource.Target { applied <- r.N; return r.Rooms })
		close(done)
	}()
	if n := <-applied; n != 3 {
		t.Errorf("applied round %d first, want the latest (3)", n)
	}
	// A failed discovery round sends nothing: the workers keep running.
	select {
	case n := <-applied:
		t.Fatalf("round %d applied without a send", n)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-done
	ev := log.get()
	if fmt.Sprint(ev) != "[start 3 exit 3]" {
		t.Errorf("lifetimes %v", ev)
	}
}

func TestRetryPolicy(t *testing.T) {
	cfg := Config{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, RateLimitWait: 5 * time.Second}
	b := newRetryPolicy(&cfg, rand.New(rand.NewPCG(1, 2)))
	var waits []time.Duration
	for i := 0; i < 6; i++ {
		waits = append(waits, b.next(protocol.ErrServerClosed, false))
	}
	// Each wait is within [d/2, d] of 100, 200, 400, 800, 1000, 1000 ms.
	bounds := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range waits {
		hi := bounds[i] * time.Millisecond
		if w < hi/2 || w > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, w, hi/2, hi)
		}
	}
	b.reset()
	if w := b.next(protocol.ErrServerClosed, false); w > 100*time.Millisecond {
		t.Errorf("after reset: %v", w)
	}
	if w := b.next(roomsource.ErrRateLimited, false); w < 2500*time.Millisecond {
		t.Errorf("after a 412: %v, want ≥ half of RateLimitWait", w)
	}
	before := b.bo.Current()
	if w := b.next(errStarved, false); w > 100*time.Millisecond || b.bo.Current() != before {
		t.Errorf("starved: wait %v, backoff grew from %v to %v", w, before, b.bo.Current())
	}
	// A drop after a healthy session comes back at once and does not grow.
	if w := b.next(protocol.ErrServerClosed, true); w > 100*time.Millisecond || b.bo.Current() != before {
		t.Errorf("healthy drop: wait %v, backoff grew from %v to %v", w, before, b.bo.Current())
	}
}

// apiFor returns a roomsource client for the simulator.
func apiFor(t *testing.T, s *livesim.Sim) *roomsource.Client {
	c, err := roomsource.New(roomsource.Config{APIBase: s.URL(), Rate: 200, Burst: 200})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drain collects records until the collector stops.
// drain collects what is sent on ch (a Decoded's records one by one)
// until the returned close func is called.
func drain(ch chan storage.Record) (func() []storage.Record, func()) {
	var mu sync.Mutex
	var got []storage.Record
	done := make(chan struct{})
	go func() {
		for r := range ch {
			mu.Lock()
			if d, ok := r.(storage.Decoded); ok {
				got = append(got, d.Records...)
			} else {
				got = append(got, r)
			}
			mu.Unlock()
		}
		close(done)
	}()
	return func() []storage.Record {
			mu.Lock()
			defer mu.Unlock()
			return append([]storage.Record(nil), got...)
		}, func() {
			close(ch)
			<-done
		}
}

func endReasons(recs []storage.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		if c, ok := r.(storage.Conn); ok && c.EndedMs != 0 {
			m[c.EndReason]++
		}
	}
	return m
}

func TestStallDetection(t *testing.T) {
	s, err := livesim.New(livesim.Options{Rooms: 1, Rate: 50, StallEvery: 200 * time.Millisecond, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	api := apiFor(t, s)
	ctx := context.Background()
	info, err := api.DanmuInfo(ctx, s.RoomIDs()[0])
	if err != nil {
		t.Fatal(err)
	}
	buvid, _ := api.Identity()
	const hb = 200 * time.Millisecond
	sess, err := protocol.Dial(ctx, protocol.SessionConfig{URL: api.URL(info, 0), RoomID: s.RoomIDs()[0], Key: info.Token, Buvid: buvid, HeartbeatInterval: hb})
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	err = sess.Run(ctx, func([]byte) { last = time.Now() })
	if !errors.Is(err, protocol.ErrStalled) {
		t.Fatalf("want ErrStalled, got %v", err)
	}
	if d := time.Since(last); d < 2*hb-50*time.Millisecond || d > 2*hb+time.Second {
		t.Errorf("stall detected %v after the last message; want about two heartbeat intervals (%v)", d, 2*hb)
	}
}

// TestBackpressure: when the writer falls behind, producers wait (and the
// wait is counted) instead of dropping; a hard stop releases them.
func TestBackpressure(t *testing.T) {
	ch := make(chan storage.Record, 1)
	hard, stop := context.WithCancel(context.Background())
	mx := metrics.New("test")
	c := New(Config{Out: ch, Hard: hard, Observer: mx})
	if !c.send(storage.Malformed{RoomID: 1}) {
		t.Fatal("first send failed")
	}
	res := make(chan bool)
	go func() { res <- c.send(storage.Malformed{RoomID: 2}) }()
	testkit.Poll(t, 5*time.Second, "the second send waiting", func() bool { return mx.Totals().Backpressure == 1 })
	<-ch // the writer catches up
	if !<-res {
		t.Error("the waiting send was dropped")
	}
	if r := (<-ch).(storage.Malformed); r.RoomID != 2 {
		t.Errorf("got %+v", r)
	}
	c.send(storage.Malformed{RoomID: 3})
	go func() { res <- c.send(storage.Malformed{RoomID: 4}) }()
	stop()
	if <-res {
		t.Error("a send after the hard stop claimed success")
	}
}
