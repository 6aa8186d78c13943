// Package testrun runs the daemon in tests: a fast configuration against
// the simulator and one call that runs it. Test code only.
package testrun

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
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
