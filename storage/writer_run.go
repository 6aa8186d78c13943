package storage

import (
	"context"
	"fmt"
	"time"
)

// Run drains in, committing one transaction per flush: every
// FlushInterval, or when BatchMax records wait. A flush runs on its own
// goroutine (one at a time) while Run goes on reading in, so a slow
// commit (an fsync behind a slow disk, a checkpoint) does not stop the
// producers: they wait only when PendingMax records are held (received
// and not yet committed), the memory ceiling. It returns after in is
// closed (by its owner) and the final flush is done, or when hard is
// cancelled (then the records not yet committed are lost and the error
// says how many). A failed flush is retried on the next trigger with the
// same records, in order; nothing is dropped while the database can be
// written. While flushes fail, at most PendingMax records are held; past
// that Run returns an error at once (the caller must stop its producers:
// Run no longer reads in). A Decoded's records are taken together with
// its journal position, which the flush that stores them commits too.
func (w *Writer) Run(hard context.Context, in <-chan Record) error {
	r := &writerRun{w: w, hard: hard, t: time.NewTicker(w.opts.FlushInterval)}
	defer r.t.Stop()
	defer func() {
		if r.done != nil {
			<-r.done // the flush goroutine uses the prepared statements
		}
		w.closePrepared()
	}()
	for {
		recv := in
		if r.held() >= w.opts.PendingMax {
			recv = nil // the ceiling: producers wait until a flush commits
		}
		select {
		case <-hard.Done():
			return r.stopped()
		case err := <-r.done:
			if stop := r.flushed(err); stop != nil {
				return stop
			}
		case rec, ok := <-recv:
			if !ok {
				return r.final()
			}
			r.receive(rec)
		case <-r.t.C:
			r.start()
		}
	}
}

// writerRun is one Run's state, owned by Run's goroutine.
type writerRun struct {
	w        *Writer
	hard     context.Context
	t        *time.Ticker
	batch    []Record    // received, not yet handed to a flush
	inflight []Record    // being committed by the flush goroutine
	spare    []Record    // a committed batch's array, for reuse
	at       *Checkpoint // the latest journal position received (with batch)
	flying   *Checkpoint // the position the running flush commits
	done     chan error  // the running flush's result; nil when none runs
	again    bool        // a flush was asked for while one ran
	failing  int
	lastErr  error
}

func (r *writerRun) held() int { return len(r.batch) + len(r.inflight) }

// receive takes one record from the producers.
func (r *writerRun) receive(rec Record) {
	w := r.w
	if d, ok := rec.(Decoded); ok {
		r.batch = append(r.batch, d.Records...)
		at := d.At
		r.at = &at
	} else {
		r.batch = append(r.batch, rec)
	}
	w.obs.WriterRecord(r.held())
	switch {
	case r.failing > 0 && r.held() >= w.opts.PendingMax && !w.opts.Journaled:
		r.start() // one last try; if it fails, Run gives up
	// Past the cap, flush; while flushes fail the batch keeps growing
	// (up to PendingMax) between the retries.
	case len(r.batch) >= w.opts.BatchMax && (r.failing == 0 || len(r.batch)%w.opts.BatchMax == 0):
		r.start()
	}
}

// start hands the batch to a flush, or asks for one after the running
// one.
func (r *writerRun) start() {
	if r.done != nil {
		r.again = true
		return
	}
	r.again = false
	if len(r.batch) == 0 && r.at == nil {
		return
	}
	r.inflight, r.batch, r.spare = r.batch, r.spare[:0], nil
	r.flying, r.at = r.at, nil
	r.done = make(chan error, 1)
	go func(b []Record, at *Checkpoint) { r.done <- r.w.flush(r.hard, b, at) }(r.inflight, r.flying)
}

// finish takes a flush's result.
func (r *writerRun) finish(err error) {
	w := r.w
	r.done = nil
	if err != nil {
		r.failing++
		if r.hard.Err() == nil || r.lastErr == nil { // a hard stop's rollback says nothing about the cause
			r.lastErr = err
		}
		r.t.Reset(w.opts.FlushInterval) // the next try a full interval after this one ended
		w.obs.FlushFailed()
		r.batch = append(r.inflight, r.batch...) // retried first, in order
		r.inflight = nil
		if r.at == nil {
			r.at = r.flying
		}
		r.flying = nil
		if r.failing == 1 || r.failing%10 == 0 {
			w.log.Error("flush failed; keeping the batch and retrying", "records", len(r.batch), "err", err, "failures", r.failing)
		}
		return
	}
	if r.failing > 0 {
		w.log.Info("flushes recovered", "after_failures", r.failing)
	}
	r.failing = 0
	r.spare, r.inflight, r.flying = r.inflight[:0], nil, nil
}

// flushed handles a flush's end; a non-nil result ends Run.
func (r *writerRun) flushed(err error) error {
	r.finish(err)
	if err != nil {
		if r.held() >= r.w.opts.PendingMax && !r.w.opts.Journaled {
			return fmt.Errorf("storage: cannot write %s: %w; %d records held in memory reached the bound (%d) and are not written: stopping",
				r.w.db.path, r.lastErr, r.held(), r.w.opts.PendingMax)
		}
		return nil // retried at the next tick
	}
	if r.again || len(r.batch) >= r.w.opts.BatchMax {
		r.start()
	}
	return nil
}

// wait ends the running flush, if any.
func (r *writerRun) wait() {
	if r.done != nil {
		r.finish(<-r.done)
	}
}

// final is the last flush, after in was closed.
func (r *writerRun) final() error {
	r.wait()
	if len(r.batch) > 0 || r.at != nil {
		r.start()
		r.wait()
	}
	if len(r.batch) > 0 {
		return fmt.Errorf("storage: final flush failed: %d records not written to %s: %w", len(r.batch), r.w.db.path, r.lastErr)
	}
	return nil
}

// stopped is Run's end on a hard stop.
func (r *writerRun) stopped() error {
	r.wait()
	if n := r.held(); n > 0 {
		if r.lastErr != nil {
			return fmt.Errorf("storage: stopped before the final flush: %d records not written to %s (flushes failing: %w)", n, r.w.db.path, r.lastErr)
		}
		return fmt.Errorf("storage: stopped before the final flush: %d records not written", n)
	}
	return nil
}
