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

// CollectUntil runs one collection with cfg until done reports true
// (polled, see testkit.Until) or within has passed, then stops it as
// SIGINT would and waits for its end. It fails the test when done never
// held or the run failed.
func CollectUntil(t testing.TB, cfg daemon.Config, within time.Duration, done func() bool) *daemon.Result {
	t.Helper()
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	type ran struct {
		res *daemon.Result
		err error
	}
	end := make(chan ran, 1)
	go func() { res, err := d.Run(ctx, nil); end <- ran{res, err} }()
	held := testkit.Until(within, done)
	stop()
	r := <-end
	if r.err != nil {
		t.Fatalf("collect: %v", r.err)
	}
	if !held {
		t.Fatalf("collect: what the test waits for did not happen within %v", within)
	}
	return r.res
}
