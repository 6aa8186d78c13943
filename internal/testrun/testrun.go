// Package testrun runs the daemon in tests: a fast configuration against
// the simulator and one call that runs it. Test code only.
package testrun

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/testkit"
)

// Config is a daemon configuration for tests against the simulator
// at base: the top 10 rooms, fast heartbeats and flushes, short waits,
// anonymous, no log.
func Config(base, db string) daemon.Config {
	return daemon.Config{DB: db, Top: 10, APIBase: base, FlushInterval: 500 * time.Millisecond, Refresh: time.Second,
		HTTPRate: 50, Heartbeat: 500 * time.Millisecond, Watchdog: 2 * time.Second, FinalFlushTimeout: 30 * time.Second,
		Tuning: daemon.Tuning{Spread: 200 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
			HealthyAfter: time.Second, BreakerPause: 200 * time.Millisecond}}
}

// Collect runs one collection with cfg and fails the test on an error.
func Collect(t testing.TB, cfg daemon.Config) *daemon.Result {
	t.Helper()
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	res, err := d.Run(context.Background(), nil)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	return res
}

// Running is a collection started in the background (Start).
type Running struct {
	// D is the running daemon (its Totals, Coverage…).
	D    *daemon.Daemon
	stop context.CancelFunc
	end  chan struct{}
	res  *daemon.Result
	err  error
}

// Start starts one collection with cfg in the background; Stop ends it.
// A test that returns without Stop has it stopped at cleanup.
func Start(t testing.TB, cfg daemon.Config) *Running {
	t.Helper()
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &Running{D: d, stop: stop, end: make(chan struct{})}
	go func() {
		defer close(r.end)
		r.res, r.err = d.Run(ctx, nil)
	}()
	t.Cleanup(func() { stop(); <-r.end })
	return r
}

// Ended is closed when the run has ended (by Stop or on its own).
func (r *Running) Ended() <-chan struct{} { return r.end }

// Err is the run's error once Ended is closed.
func (r *Running) Err() error { <-r.end; return r.err }

// Stop stops the run as SIGINT would, waits for its end and returns
// what Run returned.
func (r *Running) Stop() (*daemon.Result, error) {
	r.stop()
	<-r.end
	return r.res, r.err
}

// CollectUntil runs one collection with cfg until done reports true
// (polled, see testkit.Until) or within has passed, then stops it as
// SIGINT would and waits for its end. It fails the test when done never
// held or the run failed.
func CollectUntil(t testing.TB, cfg daemon.Config, within time.Duration, done func() bool) *daemon.Result {
	t.Helper()
	r := Start(t, cfg)
	held := testkit.Until(within, done)
	res, err := r.Stop()
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if !held {
		t.Fatalf("collect: what the test waits for did not happen within %v", within)
	}
	return res
}
