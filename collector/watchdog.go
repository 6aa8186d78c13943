package collector

import (
	"context"
	"time"
)

// watchdog checks one connection's coverage against the room's history
// (see coverage.go) at adaptive intervals, records it on the connection,
// and applies the low-coverage policy. An anonymous connection (a known
// sample) is never recycled for being one, but is replaced as soon as an
// account slot is free.
type watchdog struct {
	w      *worker
	cancel context.CancelCauseFunc // ends the session with errUpgrade or errStarved
	sess   syncer
	st     *connState
	known  bool          // a known sample (anonymous)
	every  time.Duration // until the next check, adapted to the room's rate
}

func (d *watchdog) interval() time.Duration { return d.every }

// firstCheck is how long after the auth a connection's first check comes.
func firstCheck(cfg *Config) time.Duration { return min(cfg.WatchEvery, 2*cfg.WatchMin) }

// check makes one coverage check (the scheduler calls it when it is due)
// and reports whether there should be another: false when it ended the
// session or ctx, the connection's, ended.
func (d *watchdog) check(ctx context.Context) bool {
	w, cfg := d.w, &d.w.c.cfg
	if d.known && cfg.Accounts > 0 && w.account < 0 && w.c.pool.hasFree() {
		w.log.Info("an account slot is free; replacing the anonymous connection")
		d.cancel(errUpgrade)
		return false
	}
	fetched := time.Now()
	hist, err := cfg.API.History(ctx, w.t.RoomID)
	if err != nil {
		return ctx.Err() == nil // no verdict without evidence (ErrNoSpareBudget lands here too)
	}
	if err := d.barrier(ctx); err != nil {
		return ctx.Err() == nil // the reader or the decoder is held up: judge nothing now
	}
	considered, arrived, fresh := w.cov.judge(hist, fetched)
	if r, ok := w.cov.totals.Estimate(time.Now()); ok {
		cfg.Observer.SetRoomCoverage(w.t.RoomID, r)
	}
	d.every = nextInterval(d.every, cfg.WatchMin, cfg.WatchEvery, fresh, len(hist))
	if considered == 0 {
		return true
	}
	d.st.histSeen.Add(int64(considered))
	d.st.histArrived.Add(int64(arrived))
	w.c.journalConn(d.st.record()) // coverage so far, for stats during long runs
	return d.policy()
}

// policy applies the low-coverage policy to the connection's counts so
// far; false: it replaced the connection.
func (d *watchdog) policy() bool {
	w, cfg, st := d.w, &d.w.c.cfg, d.st
	seen, got := st.histSeen.Load(), st.histArrived.Load()
	if seen < StarveMin || d.known {
		return true
	}
	ratio := float64(got) / float64(seen)
	switch {
	case ratio < cfg.StarveRatio:
		recycle, sampled := w.low.onLow(time.Now())
		if sampled && !st.sampled.Load() {
			w.log.Warn("logged-in connection still gets a sample; marking the room sampled and keeping it",
				"arrived", got, "of", seen)
			st.sampled.Store(true)
			w.cov.totals.Sampled.Store(true)
			cfg.Observer.SetRoomSampled(w.t.RoomID, true)
			w.c.journalConn(st.record())
		}
		if recycle {
			w.log.Warn("connection gets far fewer danmaku than the room sent; replacing it with a fresh token",
				"arrived", got, "of", seen)
			w.info = nil
			d.cancel(errStarved)
			return false
		}
	case ratio >= goodRatio:
		if w.low.onGood() {
			w.log.Info("room's coverage recovered", "arrived", got, "of", seen)
			w.cov.totals.Sampled.Store(false)
			cfg.Observer.SetRoomSampled(w.t.RoomID, false)
		}
	}
	return true
}

// barrier returns once everything the server sent before now has been
// decoded (so a history item that arrived is in the seen set): it sends
// a heartbeat and waits for its reply to be read (Session.Sync; the reply
// comes after everything sent before it), then for the decoder to have
// handled every frame the reader journaled by then. It gives up after
// syncTimeout: a busy machine is never counted as loss.
func (d *watchdog) barrier(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if err := d.sess.Sync(ctx); err != nil {
		return err
	}
	target := d.st.journaled.Load()
	t := time.NewTicker(decodeWaitPoll)
	defer t.Stop()
	for d.st.decoded.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// decodeWaitPoll is how often the barrier looks at the decoder's
// progress.
const decodeWaitPoll = 20 * time.Millisecond
