package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// recordQueue is the capacity of the channel into the writer: most of
// what it carries is one Decoded per frame.
const recordQueue = 1024

// sink is the writer running on its goroutine, and how it ended.
type sink struct {
	records chan storage.Record
	done    chan error    // the writer's result
	failed  chan struct{} // closed when the writer or the journal gave up
	err     error         // why, set before failed is closed
	closed  atomic.Bool   // records is closed: the final flush runs
	final   *fileWriter   // the last file, set before done
	first   *storage.DB   // the file the run opened first (Run closes it)
	once    sync.Once
	hard    context.Context
	stop    context.CancelFunc // cancels hard: everything stops at once
}

// fail ends the run because nothing can be stored any more: the writer
// gave up (it stops everything at once), or the journal cannot be
// written (the run stops in order).
func (s *sink) fail(err error, now bool) {
	s.once.Do(func() {
		s.err = err
		close(s.failed)
		if now {
			s.stop()
		}
	})
}

// journalGiveUp: a journal whose writes have failed this long (a full
// disk) ends the run, as nothing read can be kept.
const journalGiveUp = 5 * time.Second

// watchJournal ends the run when the journal's writes keep failing.
func (d *Daemon) watchJournal(ctx context.Context, j *journal.Journal, out *sink) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if since, err := j.Failing(); err != nil && time.Since(since) >= journalGiveUp {
			d.cfg.Logger.Error("cannot write the frame journal; stopping", "journal", j.Dir(), "err", err)
			out.fail(fmt.Errorf("storage: cannot write %s (the frame journal of %s) for %s: %w; what was read since is lost (danmakud_journal_dropped_total): stopping",
				j.Dir(), d.cfg.DB, time.Since(since).Round(time.Second), err), false)
			return
		}
	}
}

// startSink starts the storing side: the current file's writer and the
// rotator in front of it (see rotator). A writer gives up early only on
// a hard stop; a file that cannot be opened at a rotation ends the run.
func (d *Daemon) startSink(hardParent context.Context, db *storage.DB, runID int64, j *journal.Journal) *sink {
	cfg := &d.cfg
	s := &sink{records: make(chan storage.Record, recordQueue), done: make(chan error, 1), failed: make(chan struct{})}
	s.hard, s.stop = context.WithCancel(hardParent)
	s.first = db
	r := &rotator{d: d, s: s, j: j, first: db, rooms: map[int64]storage.RoomMeta{}, snaps: map[int64]storage.Snapshot{},
		conns: map[int64]storage.Conn{}, base: map[int64]storage.Conn{}}
	r.cur = r.startFile(db, runID, d.files.periodOf(time.Now()))
	d.mx.SetQueueDepth(func() int { return len(s.records) })
	d.mx.SetFlushDeadline(max(3*cfg.FlushInterval, time.Minute)) // /healthz: a writer stuck that long is unhealthy
	go r.run()
	return s
}

// collect runs the collection proper: journal, writer, decode stage,
// collector, login checks, discovery; then the ordered shutdown and the
// run's end.
func (d *Daemon) collect(ctx, hardParent context.Context, st *started, db *storage.DB, runID int64, deadline time.Time) (*Result, error) {
	cfg := &d.cfg
	j, from, err := d.openJournal(ctx, db, runID)
	if err != nil {
		return &Result{Status: "journal failed"}, err
	}
	defer j.Close()
	out := d.startSink(hardParent, db, runID, j)
	defer out.stop()
	for _, m := range st.metas {
		out.records <- m
	}
	col := collector.New(collector.Config{
		API: st.api, Out: out.records, Hard: out.hard, Journal: j, RunID: runID, MaxRooms: d.roomsThatFit(len(st.fixed)),
		UserAgent: roomsource.DefaultUserAgent,
		Logger:    cfg.Logger, Accounts: len(cfg.Accounts), RoomsPerAccount: cfg.RoomsPerAccount, LoggedInOnly: cfg.LoggedInOnly,
		HeartbeatInterval: cfg.Heartbeat, WatchEvery: cfg.Watchdog, Spread: cfg.Tuning.Spread,
		BackoffMin: cfg.Tuning.BackoffMin, BackoffMax: cfg.Tuning.BackoffMax, HealthyAfter: cfg.Tuning.HealthyAfter,
		RateLimitWait: cfg.Tuning.BreakerPause, Raw: cfg.Raw, Observer: d.mx, SourceAddr: cfg.SourceAddr,
	})
	d.status.col.Store(col)
	decodeCtx, stopDecode := context.WithCancel(out.hard)
	defer stopDecode()
	decoded := make(chan error, 1)
	go func() { decoded <- col.Decode(decodeCtx, from) }()
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
	go func() { // a writer or journal that gave up ends the run
		select {
		case <-out.failed:
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	go d.watchJournal(runCtx, j, out)
	start := time.Now()
	stopped := d.watchStop(runCtx, cfg.FinalFlushTimeout+stopGrace)
	defer stopped()
	d.watch(runCtx, out.hard, st, col, logins)
	// Every reader has stopped: the journal holds all they read. The
	// decoder drains it and the writer stores it, within the final flush
	// timeout; what is left then stays in the journal for the next run.
	flushTimer := time.AfterFunc(cfg.FinalFlushTimeout, stopDecode)
	defer flushTimer.Stop()
	j.Close()
	<-decoded
	out.closed.Store(true)
	close(out.records) // we own it: every producer has stopped
	return d.finish(out, col, logins, hardParent, time.Since(start), j)
}

// roomsThatFit is how many rooms the descriptor budget lets the run
// watch (0: all it wants); when that is fewer than it wants, it says so
// once, with the fix.
func (d *Daemon) roomsThatFit(fixed int) int {
	b, err := descriptorBudget()
	if err != nil {
		return 0
	}
	if wanted := d.cfg.Top + fixed; wanted > b.rooms {
		d.cfg.Logger.Error(b.advice(wanted))
		return b.rooms
	}
	return 0
}

// JournalDir is where the frame journal of the database at db lives.
func JournalDir(db string) string { return db + ".frames" }

// openJournal opens the frame journal beside the database and finds
// where to start decoding: after the position the database last
// committed for it (frames read by an earlier run and not stored are
// replayed first).
func (d *Daemon) openJournal(ctx context.Context, db *storage.DB, runID int64) (*journal.Journal, journal.Pos, error) {
	cfg := &d.cfg
	j, err := journal.Open(journal.Options{Dir: d.files.journal(), Run: runID, MaxBytes: cfg.JournalMax,
		PendingMax: d.mem.journalPending, Logger: cfg.Logger, Observer: d.mx})
	if err != nil {
		_ = db.EndRun(context.Background(), runID, "journal failed")
		return nil, journal.Pos{}, usageErr(err)
	}
	d.mx.SetJournalBacklog(j.OnDisk)
	from, err := d.committed(ctx, db, j.ID())
	if err != nil {
		j.Close()
		_ = db.EndRun(context.Background(), runID, "journal failed")
		return nil, journal.Pos{}, failureErr(err)
	}
	if back := j.OnDisk(); back > 0 {
		cfg.Logger.Info("replaying frames an earlier run read but did not store", "journal", j.Dir(), "bytes", back, "from", from.String())
	}
	return j, from, nil
}

// committed is the journal position the database last committed for
// journal id: for a rotating --db, the latest over the pattern's files.
func (d *Daemon) committed(ctx context.Context, db *storage.DB, id uint64) (journal.Pos, error) {
	cp, ok, err := db.JournalPosition(ctx, id)
	if err != nil {
		return journal.Pos{}, err
	}
	from := journal.Pos{}
	if ok {
		from = journal.Pos{Seg: cp.Seg, Off: cp.Off}
	}
	paths, err := d.files.existing()
	if err != nil {
		return from, err
	}
	for _, p := range paths {
		if p == db.Path() {
			continue
		}
		other, err := storage.OpenReadOnly(p)
		if err != nil {
			d.cfg.Logger.Warn("--db: a file of the pattern is not readable; skipped", "db", p, "err", err)
			continue
		}
		cp, ok, err := other.JournalPosition(ctx, id)
		other.Close()
		if p := (journal.Pos{Seg: cp.Seg, Off: cp.Off}); err == nil && ok && from.Less(p) {
			from = p
		}
	}
	return from, nil
}

// watch runs discovery, the login checks and the room workers until
// runCtx ends, and returns once every producer of records has stopped.
// Shutdown order: discovery stops first; only after it has exited are
// the workers cancelled (and at once when hard ends).
func (d *Daemon) watch(runCtx, hard context.Context, st *started, col *collector.Collector, logins *collector.LoginWatch) {
	cfg := &d.cfg
	rounds := make(chan roomsource.Round, 1)
	disc := &roomsource.Discovery{Lister: st.api, Top: cfg.Top, Area: cfg.Area, Fixed: st.fixed, Shard: cfg.Shard, Refresh: cfg.Refresh,
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
func (d *Daemon) finish(out *sink, col *collector.Collector, logins *collector.LoginWatch,
	hardParent context.Context, took time.Duration, j *journal.Journal) (*Result, error) {
	flushTimer := time.AfterFunc(d.cfg.FinalFlushTimeout, out.stop)
	werr := <-out.done
	flushTimer.Stop()
	db, runID := out.final.db, out.final.runID
	if left := j.OnDisk(); left > 0 && !d.cfg.Tuning.KeepJournal {
		d.cfg.Logger.Warn("frames not yet stored are kept in the journal; the next run stores them first", "journal", j.Dir(), "bytes", left)
	} else if !d.cfg.Tuning.KeepJournal {
		_ = os.Remove(j.Dir()) // empty: everything read is stored
	}
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
	if writeFailed && (werr == nil || out.err != werr) {
		werr = errors.Join(out.err, werr) // the journal's failure first
	}
	if err := db.EndRun(context.Background(), runID, status); err != nil {
		werr = errors.Join(werr, err)
	}
	res := &Result{RunID: runID, DB: db.Path(), Status: status, Took: took, Totals: d.mx.Totals(), Coverage: col.Coverage(), LoggedIn: logins.LoggedIn()}
	if db != out.first {
		db.Close() // a file the run rotated to (Run closes the first)
	}
	if interrupted {
		msg := "second signal: stopped without the final flush"
		if j.OnDisk() > 0 {
			msg += "; what was read and not stored is kept in " + j.Dir() + " and stored by the next run"
		}
		return res, &Error{Kind: Interrupted, Err: errors.New(msg)}
	}
	if werr != nil {
		return res, failureErr(werr)
	}
	return res, nil
}
