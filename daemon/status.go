package daemon

import (
	"context"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/statuspage"
	"github.com/danmakud/danmakud/roomsource"
)

// statusSource is what the status page (GET / and /api/status on the
// metrics address) reads: the run's configuration, and the API client
// and the collector once they exist. Safe for concurrent use.
type statusSource struct {
	d        *Daemon
	started  time.Time
	deadline time.Time // zero: no --duration
	ctx      context.Context
	api      atomic.Pointer[roomsource.Client]
	col      atomic.Pointer[collector.Collector]
}

// begin records the run's start, its context and its deadline (zero =
// none).
func (s *statusSource) begin(ctx context.Context, deadline time.Time) {
	s.started, s.ctx = time.Now(), ctx
	if s.d.cfg.Duration > 0 {
		s.deadline = deadline
	}
}

// snapshot is what one page or /api/status answer shows.
func (s *statusSource) snapshot() statuspage.Snapshot {
	cfg := &s.d.cfg
	run := statuspage.Run{Version: cfg.Version, Started: s.started, DB: cfg.DB, Phase: "starting",
		Accounts: len(cfg.Accounts), HTTPRate: cfg.HTTPRate}
	st := collector.Status{At: time.Now()}
	if col := s.col.Load(); col != nil {
		st, run.Phase = col.Status(), "collecting"
	}
	if (s.ctx != nil && s.ctx.Err() != nil) || (!s.deadline.IsZero() && st.At.After(s.deadline)) {
		run.Phase = "stopping"
	}
	if api := s.api.Load(); api != nil {
		run.BreakerOpenUntil = api.BreakerOpenUntil()
	}
	return statuspage.Snapshot{Run: run, Status: st, Totals: s.d.mx.Totals()}
}

// mountPages adds the status page, and with Config.Pprof Go's profiles
// under /debug/pprof/, to the metrics endpoint.
func (d *Daemon) mountPages() {
	statuspage.New(d.status.snapshot).Register(d.mx)
	if !d.cfg.Pprof {
		return
	}
	d.mx.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index)) // also /debug/pprof/heap, goroutine, allocs, …
	d.mx.Handle("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	d.mx.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	d.mx.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	d.mx.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}
