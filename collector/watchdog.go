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
	known  bool // a known sample (anonymous)
}

// run checks until ctx ends or it ends the session.
func (d *watchdog) run(ctx context.Context) {
	w, cfg, st, known := d.w, &d.w.c.cfg, d.st, d.known
	interval := min(cfg.WatchEvery, 2*cfg.WatchMin) // then adapted to the room's rate
	for {
		if !sleep(ctx, interval) {
			return
		}
		if known && cfg.Accounts > 0 && w.account < 0 && w.c.pool.hasFree() {
			w.log.Info("an account slot is free; replacing the anonymous connection")
			d.cancel(errUpgrade)
			return
		}
		fetched := time.Now()
		hist, err := cfg.API.History(ctx, w.t.RoomID)
		if err != nil {
			continue // no verdict without evidence (ErrNoSpareBudget lands here too)
		}
		if err := d.barrier(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			continue // the reader or the decoder is held up: judge nothing now
		}
		considered, arrived, fresh := w.cov.judge(hist, fetched)
		if r, ok := w.cov.totals.Estimate(time.Now()); ok {
			cfg.Observer.SetRoomCoverage(w.t.RoomID, r)
		}
		interval = nextInterval(interval, cfg.WatchMin, cfg.WatchEvery, fresh, len(hist))
		if considered == 0 {
			continue
		}
		st.histSeen.Add(int64(considered))
		st.histArrived.Add(int64(arrived))
		w.c.journalConn(st.record()) // coverage so far, for stats during long runs
		seen, got := st.histSeen.Load(), st.histArrived.Load()
		if seen < StarveMin || known {
			continue
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
				return
			}
		case ratio >= goodRatio:
			if w.low.onGood() {
				w.log.Info("room's coverage recovered", "arrived", got, "of", seen)
				w.cov.totals.Sampled.Store(false)
				cfg.Observer.SetRoomSampled(w.t.RoomID, false)
			}
		}
	}
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
