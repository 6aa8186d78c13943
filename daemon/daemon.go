package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/storage"
)

// Totals are a run's running counts: what /metrics exports, summed.
type Totals = metrics.Totals

// Result is what a run did. Run returns one whenever the collection
// started, also together with an error (a failed write, a hard stop).
type Result struct {
	// RunID is the run's id in DB, the file it ended in (the one file, or
	// the last of a rotating --db).
	RunID int64
	DB    string
	// Status is what the runs table records as exit_status: "ok",
	// "write failed", "final flush failed" or
	// "interrupted: second signal, no final flush".
	Status string
	// Took is the collection's time, from the first connect to the end.
	Took   time.Duration
	Totals Totals
	// Coverage is each watched room's coverage count (final once Run has
	// returned).
	Coverage map[int64]*collector.CoverageCount
	// LoggedIn is how many accounts were logged in at the last check; 0
	// means the run collected anonymously (a sample).
	LoggedIn int
}

// Daemon is one collection run. Make it with New, run it once with Run.
// Totals is safe to call at any time from any goroutine.
type Daemon struct {
	cfg    Config
	mx     *metrics.Metrics
	mem    memoryBudget
	files  dbFiles
	status statusSource // what the status page shows (status.go)
}

// New checks cfg and returns a Daemon; errors have Kind Usage.
func New(cfg Config) (*Daemon, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	files, err := parseDBFiles(cfg.DB, cfg.Tuning.RotateEvery)
	if err != nil {
		return nil, usageErr(err)
	}
	d := &Daemon{cfg: cfg, mx: metrics.New(cfg.Version), mem: memoryBudgetFor(cfg.MemoryLimit), files: files}
	d.status.d = d
	return d, nil
}

// Totals returns the running counts (for a progress line).
func (d *Daemon) Totals() Totals { return d.mx.Totals() }

// Run collects until ctx ends or Config.Duration has passed, then stops
// in order (see the package comment) and returns. hard, when it ends
// (a second signal), stops everything at once: no final flush; the run
// is recorded as interrupted and the error has Kind Interrupted. hard
// may be nil. Errors carry a Kind (KindOf).
func (d *Daemon) Run(ctx context.Context, hard context.Context) (*Result, error) {
	// Duration counts from here, before the lock wait: back-to-back runs
	// from cron or a timer keep their slots.
	deadline := time.Now().Add(d.cfg.Duration)
	d.status.begin(ctx, deadline)
	if hard == nil {
		hard = context.Background()
	}
	d.mem.apply()
	db, err := d.openPath(ctx, d.files.path(d.files.periodOf(time.Now())))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	stopServer, err := d.serveMetrics()
	if err != nil {
		return nil, err
	}
	defer stopServer()
	runID, err := db.StartRun(ctx, d.cfg.runInfo())
	if err != nil {
		return nil, failureErr(err)
	}
	s, err := d.bootstrap(ctx, db, runID, deadline)
	if err != nil {
		return nil, err
	}
	d.status.api.Store(s.api)
	return d.collect(ctx, hard, s, db, runID, deadline)
}

// openPath opens the database file at path for writing (waiting up to
// LockWait for the lock) and maps its errors to kinds.
func (d *Daemon) openPath(ctx context.Context, path string) (*storage.DB, error) {
	cfg := &d.cfg
	if cfg.LockWait > 0 {
		cfg.Logger.Debug("opening the database; waiting for another collect if it holds it", "db", path, "lock_wait", cfg.LockWait)
	}
	db, err := storage.OpenContext(ctx, path, storage.OpenOptions{LockWait: cfg.LockWait})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, storage.ErrLocked):
		return nil, &Error{Kind: Locked, Err: fmt.Errorf("%s is in use by another collect (waited %v for it to finish); refusing to start", path, cfg.LockWait)}
	case errors.Is(err, storage.ErrNotOurs), errors.Is(err, storage.ErrNewerSchema), errors.Is(err, storage.ErrReadOnly):
		return nil, usageErr(err)
	}
	return nil, failureErr(err)
}

// serveMetrics starts the /metrics server once the database is ours (a
// run waiting for the previous one does not fight it for the port).
func (d *Daemon) serveMetrics() (stop func(), err error) {
	cfg := &d.cfg
	var srv *metrics.Server
	if cfg.MetricsListener != nil || cfg.MetricsAddr != "" {
		d.mountPages()
	}
	switch {
	case cfg.MetricsListener != nil:
		srv = d.mx.ServeOn(cfg.MetricsListener)
	case cfg.MetricsAddr != "":
		if srv, err = d.mx.Serve(cfg.MetricsAddr); err != nil {
			return nil, usageErr(err)
		}
	default:
		return func() {}, nil
	}
	addr := srv.Addr().String()
	cfg.Logger.Info("metrics on http://"+addr+"/metrics", "healthz", "http://"+addr+"/healthz", "status", "http://"+addr+"/")
	return func() { srv.Close() }, nil
}
