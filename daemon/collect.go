package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// recordQueue is the capacity of the channel into the writer.
const recordQueue = 65536

// sink is the writer running on its goroutine, and how it ended.
type sink struct {
	records chan storage.Record
	done    chan error    // the writer's result
	failed  chan struct{} // closed when the writer gave up early
	hard    context.Context
	stop    context.CancelFunc // cancels hard: everything stops at once
}

// startWriter starts the single writer. It gives up early only when it
// cannot write and holds PendingMax records: then everything stops at
// once.
func (d *Daemon) startWriter(hardParent context.Context, db *storage.DB, runID int64) *sink {
	cfg := &d.cfg
	s := &sink{records: make(chan storage.Record, recordQueue), done: make(chan error, 1), failed: make(chan struct{})}
	s.hard, s.stop = context.WithCancel(hardParent)
	w := storage.NewWriter(db, storage.WriterOptions{RunID: runID, FlushInterval: cfg.FlushInterval, Logger: cfg.Logger,
		Observer: d.mx, PendingMax: cfg.Tuning.PendingMax})
	d.mx.SetQueueDepth(func() int { return len(s.records) })
	d.mx.SetFlushDeadline(max(3*cfg.FlushInterval, time.Minute)) // /healthz: a writer stuck that long is unhealthy
	go func() {
		err := w.Run(s.hard, s.records)
		s.done <- err
		if err != nil && s.hard.Err() == nil {
			cfg.Logger.Error("cannot write the database; stopping", "db", cfg.DB, "err", err)
			close(s.failed)
			s.stop()
		}
	}()
	return s
}

// collect runs the collection proper: writer, collector, login checks,
// discovery, progress; then the ordered shutdown and the run's end.
func (d *Daemon) collect(ctx, hardParent context.Context, st *started, db *storage.DB, runID int64, deadline time.Time) (*Result, error) {
	cfg := &d.cfg
	out := d.startWriter(hardParent, db, runID)
	defer out.stop()
	for _, m := range st.metas {
		out.records <- m
	}
	col := collector.New(collector.Config{
		API: st.api, Out: out.records, Hard: out.hard, UserAgent: roomsource.DefaultUserAgent, Logger: cfg.Logger,
		Accounts: len(cfg.Accounts), RoomsPerAccount: cfg.RoomsPerAccount, LoggedInOnly: cfg.LoggedInOnly,
		HeartbeatInterval: cfg.Heartbeat, WatchEvery: cfg.Watchdog, Spread: cfg.Tuning.Spread,
		BackoffMin: cfg.Tuning.BackoffMin, BackoffMax: cfg.Tuning.BackoffMax, HealthyAfter: cfg.Tuning.HealthyAfter,
		RateLimitWait: cfg.Tuning.BreakerPause, Raw: cfg.Raw, Observer: d.mx,
	})
	logins := collector.NewLoginWatch(st.api, col, cfg.Accounts, cfg.Logger, d.mx)
	if len(cfg.Accounts) > 0 {
		logins.Check(ctx)
	}
	if len(cfg.Accounts) > 0 && logins.LoggedIn() == 0 {
		cfg.Logger.Warn("no account is logged in: collecting anonymously, a sample of about one message in ten (danmakud login)")
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	if cfg.Duration > 0 {
		runCtx, cancelRun = context.WithDeadline(runCtx, deadline)
		defer cancelRun()
	}
	go func() { // a writer that gave up ends the run
		select {
		case <-out.failed:
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	start := time.Now()
	d.watch(runCtx, out.hard, st, col, logins)
	close(out.records) // we own it: every producer has stopped
	return d.finish(db, runID, out, col, logins, hardParent, time.Since(start))
}

// watch runs discovery, the login checks and the room workers until
// runCtx ends, and returns once every producer of records has stopped.
// Shutdown order: discovery stops first; only after it has exited are
// the workers cancelled (and at once when hard ends).
func (d *Daemon) watch(runCtx, hard context.Context, st *started, col *collector.Collector, logins *collector.LoginWatch) {
	cfg := &d.cfg
	rounds := make(chan roomsource.Round, 1)
	disc := &roomsource.Discovery{Lister: st.api, Top: cfg.Top, Area: cfg.Area, Fixed: st.fixed, Refresh: cfg.Refresh,
		Hysteresis: cfg.Tuning.Hysteresis, Logger: cfg.Logger}
	discCtx, stopDisc := context.WithCancel(runCtx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); disc.Run(discCtx, rounds) }()
	var loginWG sync.WaitGroup
	if len(cfg.Accounts) > 0 {
		loginWG.Add(1)
		go func() { defer loginWG.Done(); logins.Run(runCtx, cfg.Tuning.LoginCheck) }()
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	go func() { // a second signal stops the workers at once too
		select {
		case <-hard.Done():
			stopWork()
		case <-workCtx.Done():
		}
	}()
	go func() {
		<-runCtx.Done()
		if cfg.OnStopping != nil {
			cfg.OnStopping() // while every worker still runs
		}
		stopDisc()
		wg.Wait()
		stopWork()
	}()
	col.Run(workCtx, rounds) // returns after every worker has stopped
	loginWG.Wait()
}

// finish waits for the final flush (within FinalFlushTimeout), records
// the run's end and builds the Result.
func (d *Daemon) finish(db *storage.DB, runID int64, out *sink, col *collector.Collector, logins *collector.LoginWatch,
	hardParent context.Context, took time.Duration) (*Result, error) {
	flushTimer := time.AfterFunc(d.cfg.FinalFlushTimeout, out.stop)
	werr := <-out.done
	flushTimer.Stop()
	interrupted := hardParent.Err() != nil
	status := "ok"
	writeFailed := false
	select {
	case <-out.failed:
		writeFailed = true
	default:
	}
	switch {
	case writeFailed:
		status = "write failed"
	case interrupted:
		status = "interrupted: second signal, no final flush"
	case werr != nil:
		status = "final flush failed"
	}
	if err := db.EndRun(context.Background(), runID, status); err != nil {
		werr = errors.Join(werr, err)
	}
	res := &Result{Status: status, Took: took, Totals: d.mx.Totals(), Coverage: col.Coverage(), LoggedIn: logins.LoggedIn()}
	if interrupted {
		msg := "second signal: stopped without the final flush"
		if werr != nil {
			msg += " (" + werr.Error() + ")"
		}
		return res, &Error{Kind: Interrupted, Err: errors.New(msg)}
	}
	if werr != nil {
		return res, failureErr(werr)
	}
	return res, nil
}
