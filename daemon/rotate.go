package daemon

import (
	"context"
	"time"

	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/storage"
)

// fileWriter is one file's writer on its goroutine.
type fileWriter struct {
	db     *storage.DB
	runID  int64
	period time.Time // its period's start (zero: the one file)
	in     chan storage.Record
	done   chan error
}

// rotator stands between the producers (decode stage, discovery) and
// the writer: it hands every record to the current file's writer and,
// for a rotating --db, when a decoded frame was read in a later period,
// it finishes that file (the open connections end there with
// end_reason "rotated"; its final flush; its run's end), opens the next
// one and starts it with what a file needs to stand on its own: the
// rooms, their latest snapshots and the open connections (starting at
// the boundary, their counts from zero). Frames go to files in
// journal order, so each is stored exactly once. It runs on one
// goroutine; sink.final is set before sink.done.
type rotator struct {
	d     *Daemon
	s     *sink
	j     *journal.Journal
	first *storage.DB // closed by Run
	cur   *fileWriter
	rooms map[int64]storage.RoomMeta
	snaps map[int64]storage.Snapshot
	conns map[int64]storage.Conn // open connections, as last recorded (counts as in the current file)
	base  map[int64]storage.Conn // connections open at the last boundary: their counts then
}

// startFile starts db's writer.
func (r *rotator) startFile(db *storage.DB, runID int64, period time.Time) *fileWriter {
	cfg := &r.d.cfg
	f := &fileWriter{db: db, runID: runID, period: period, in: make(chan storage.Record, recordQueue), done: make(chan error, 1)}
	pending := r.d.mem.writerRecords
	if cfg.Tuning.PendingMax > 0 {
		pending = cfg.Tuning.PendingMax
	}
	w := storage.NewWriter(db, storage.WriterOptions{RunID: runID, FlushInterval: cfg.FlushInterval, Logger: cfg.Logger,
		Observer: r.d.mx, PendingMax: pending, BatchMax: max(pending/2, 1), Journaled: true, Kinds: cfg.Kinds,
		Committed: func(c storage.Checkpoint) { // the frames before c are stored: their segments can go
			if cfg.Tuning.KeepJournal {
				return
			}
			if err := r.j.Release(journal.Pos{Seg: c.Seg, Off: c.Off}); err != nil {
				cfg.Logger.Warn("journal: cannot delete a consumed segment", "err", err)
			}
		}})
	s := r.s
	go func() {
		err := w.Run(s.hard, f.in)
		if err != nil && s.hard.Err() == nil && !s.closed.Load() { // gave up during the run, not at a final flush
			cfg.Logger.Error("cannot write the database; stopping", "db", db.Path(), "err", err)
			s.fail(err, true)
		}
		f.done <- err
	}()
	return f
}

// run forwards records until the producers close sink.records, then
// closes the current file's writer and hands over its result.
func (r *rotator) run() {
	s := r.s
	for rec := range s.records {
		if dec, ok := rec.(storage.Decoded); ok && r.d.files.rotating() && s.hard.Err() == nil {
			if p := r.d.files.periodOf(time.UnixMilli(dec.RecvMs)); p.After(r.cur.period) {
				if err := r.rotate(p); err != nil {
					s.fail(err, true)
				}
			}
		}
		rec = r.note(rec)
		select {
		case r.cur.in <- rec:
		case <-s.hard.Done(): // keep draining: the producers must not block
		}
	}
	close(r.cur.in)
	err := <-r.cur.done
	s.final = r.cur
	s.done <- err
}

// note remembers what a new file needs and gives a connection record its
// counts in the current file.
func (r *rotator) note(rec storage.Record) storage.Record {
	if !r.d.files.rotating() {
		return rec
	}
	switch v := rec.(type) {
	case storage.RoomMeta:
		r.rooms[v.RoomID] = v
	case storage.Snapshot:
		r.snaps[v.RoomID] = v
	case storage.Decoded:
		for i, x := range v.Records {
			if c, ok := x.(storage.Conn); ok && c.RunID == 0 {
				v.Records[i] = r.conn(c)
			}
		}
	}
	return rec
}

// conn is c as the current file records it: counted from the boundary
// when the connection was open then.
func (r *rotator) conn(c storage.Conn) storage.Conn {
	if b, ok := r.base[c.Seq]; ok {
		c.Frames, c.Events, c.Bytes, c.Bad = c.Frames-b.Frames, c.Events-b.Events, c.Bytes-b.Bytes, c.Bad-b.Bad
		c.HistSeen, c.HistArrived, c.Acks = c.HistSeen-b.HistSeen, c.HistArrived-b.HistArrived, c.Acks-b.Acks
		start := r.cur.period.UnixMilli()
		c.StartedMs = max(c.StartedMs, start)
		if c.AuthedMs != 0 {
			c.AuthedMs = max(c.AuthedMs, start)
		}
	}
	if c.EndedMs != 0 {
		delete(r.conns, c.Seq)
		delete(r.base, c.Seq)
	} else {
		r.conns[c.Seq] = c
	}
	return c
}

// rotate finishes the current file and starts the one of period p.
func (r *rotator) rotate(p time.Time) error {
	cfg := &r.d.cfg
	old := r.cur
	for _, c := range r.conns { // open at the boundary: the old file sees them end there
		c.EndedMs, c.EndReason = p.UnixMilli(), "rotated"
		old.in <- c
	}
	close(old.in)
	status := "ok"
	if err := <-old.done; err != nil {
		status = "final flush failed"
		cfg.Logger.Error("rotating: the final flush of the finished file failed; its frames are in the journal", "db", old.db.Path(), "err", err)
	}
	if err := old.db.EndRun(context.Background(), old.runID, status); err != nil {
		cfg.Logger.Error("rotating: recording the end of the finished file's run failed", "db", old.db.Path(), "err", err)
	}
	if old.db != r.first {
		old.db.Close()
	}
	path := r.d.files.path(p)
	db, err := r.d.openPath(context.Background(), path)
	if err != nil {
		return err
	}
	runID, err := db.StartRun(context.Background(), cfg.runInfo())
	if err != nil {
		db.Close()
		return failureErr(err)
	}
	cfg.Logger.Info("rotated to a new database file", "db", path, "from", old.db.Path())
	r.cur = r.startFile(db, runID, p)
	at := p.UnixMilli()
	for _, m := range r.rooms {
		m.SeenMs = at
		r.cur.in <- m
	}
	for _, sn := range r.snaps {
		sn.AtMs = at
		r.cur.in <- sn
	}
	for seq, c := range r.conns { // open across the boundary: start over in the new file
		full := c
		if b, ok := r.base[seq]; ok { // counts back to the connection's own
			full.Frames, full.Events, full.Bytes, full.Bad = c.Frames+b.Frames, c.Events+b.Events, c.Bytes+b.Bytes, c.Bad+b.Bad
			full.HistSeen, full.HistArrived, full.Acks = c.HistSeen+b.HistSeen, c.HistArrived+b.HistArrived, c.Acks+b.Acks
		}
		r.base[seq] = full
		r.cur.in <- r.conn(full)
	}
	return nil
}
