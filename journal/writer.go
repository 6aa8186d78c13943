package journal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writer is the journal's one writer goroutine: it takes what is
// pending, writes it, and tells the appenders and the reader; beside it
// a monitor marks the journal stalled while a write takes too long.
func (j *Journal) writer() {
	defer close(j.done)
	monitorDone := make(chan struct{})
	go func() { defer close(monitorDone); j.monitor() }()
	defer func() { <-monitorDone }()
	for {
		select {
		case <-j.wake:
		case <-j.quit:
			for j.writeOnce() {
			}
			j.f.Close()
			return
		}
		for j.writeOnce() { // until nothing is pending
		}
	}
}

// writeOnce writes what is pending now; it reports whether there was
// anything.
func (j *Journal) writeOnce() bool {
	j.mu.Lock()
	buf, recs, b := j.pending, j.pendRecs, j.cur
	if len(buf) == 0 {
		j.mu.Unlock()
		return false
	}
	j.pending, j.pendRecs, j.spare = j.spare[:0], 0, nil
	j.cur = &batch{done: make(chan struct{})}
	j.mu.Unlock()

	j.writing.Store(time.Now().UnixNano())
	err := j.writeRecords(buf)
	j.writing.Store(0)
	if err != nil {
		b.err = ErrWriteFailed
	}
	close(b.done)

	j.mu.Lock()
	if err != nil {
		j.opts.Observer.JournalDropped(recs, int64(len(buf)), "write failed")
		if j.failErr == nil {
			j.failSince = time.Now()
			j.opts.Logger.Error("journal: DROPPING FRAMES: cannot write a segment; what is dropped is counted (danmakud_journal_dropped_total)",
				"dir", j.opts.Dir, "records", recs, "err", err)
		}
		j.failErr = err
	} else {
		if j.failErr != nil {
			j.opts.Logger.Info("journal: segments are written again", "dir", j.opts.Dir, "after", time.Since(j.failSince).Round(time.Millisecond))
		}
		j.failErr = nil
		j.opts.Observer.JournalWritten(recs, int64(len(buf)))
	}
	if cap(buf) <= 4<<20 {
		j.spare = buf[:0]
	}
	if j.stalled {
		j.stalled = false
		j.stallCh = make(chan struct{})
		j.opts.Logger.Info("journal: writes are fast again", "dir", j.opts.Dir)
	}
	j.written = Pos{j.seg, j.off}
	close(j.advanced)
	j.advanced = make(chan struct{})
	j.mu.Unlock()
	return true
}

// writeRecords writes encoded records to the current segment, starting a
// new one before a record would pass SegmentSize. When the next segment
// cannot be started (no descriptor left, say), the records go on into the
// current one past SegmentSize rather than being dropped, and the next
// write tries again. On a failed write the segment is cut back to its
// last whole record (or, if that fails, a new segment starts), so a
// reader never meets a torn record mid-journal.
func (j *Journal) writeRecords(buf []byte) error {
	for len(buf) > 0 {
		n := 0 // bytes of the whole records that fit in this segment
		for n < len(buf) {
			rl := int(recordLen(int(binary.LittleEndian.Uint32(buf[n:]))))
			fresh := n == 0 && j.off == segHeaderLen // a record larger than a segment goes alone
			if j.off+int64(n+rl) > j.opts.SegmentSize && !fresh {
				break
			}
			n += rl
		}
		if n == 0 {
			err := j.rotate()
			if err == nil {
				continue
			}
			if j.f == nil {
				return err
			}
			n = len(buf)
		}
		if j.beforeWrite != nil {
			j.beforeWrite()
		}
		w, err := j.f.Write(buf[:n])
		if err != nil {
			j.repair(w)
			return fmt.Errorf("%s: %w", j.f.Name(), err)
		}
		j.off += int64(n)
		j.disk.Add(int64(n))
		buf = buf[n:]
	}
	return nil
}

// rotate starts the next segment, and says when that fails (once until
// a start succeeds again).
func (j *Journal) rotate() error {
	if err := j.startSegment(j.seg + 1); err != nil {
		if j.rotateErr == nil {
			j.opts.Logger.Error("journal: cannot start the next segment; writing on in the current one past its size", "dir", j.opts.Dir,
				"segment", segName(j.seg), "err", err)
		}
		j.rotateErr = err
		return err
	}
	if j.rotateErr != nil {
		j.opts.Logger.Info("journal: segments start again", "dir", j.opts.Dir)
		j.rotateErr = nil
	}
	j.dir.Sync() // the new name, for a crash; best effort
	return nil
}

// repair cuts a partial write (w bytes) off the current segment, or
// starts a new segment when that is not possible.
func (j *Journal) repair(w int) {
	if w == 0 {
		return
	}
	if err := j.f.Truncate(j.off); err == nil {
		if _, err := j.f.Seek(j.off, 0); err == nil {
			return
		}
	}
	if err := j.rotate(); err != nil {
		j.opts.Logger.Error("journal: cannot start a new segment after a failed write", "err", err)
	}
}

// monitor marks the journal stalled while a write has taken longer than
// StallAfter, which releases every Append waiting for it.
func (j *Journal) monitor() {
	t := time.NewTicker(max(j.opts.StallAfter/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-j.done:
			return
		case <-j.quit:
			return
		case <-t.C:
		}
		start := j.writing.Load()
		if start == 0 || time.Since(time.Unix(0, start)) < j.opts.StallAfter {
			continue
		}
		j.mu.Lock()
		if !j.stalled {
			j.stalled = true
			close(j.stallCh)
			j.opts.Logger.Warn("journal: a write is slow; readers go on and records wait in memory", "dir", j.opts.Dir,
				"pending_max", j.opts.PendingMax)
		}
		j.mu.Unlock()
	}
}

// Written returns the position before which everything is in the
// kernel, and a channel closed when it moves on.
func (j *Journal) Written() (Pos, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.written, j.advanced
}

// Failing returns the error of the last segment write and since when
// writes have failed, or a nil error while they succeed.
func (j *Journal) Failing() (since time.Time, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failSince, j.failErr
}

// OnDisk is the bytes of segments not yet released.
func (j *Journal) OnDisk() int64 {
	return j.disk.Load()
}

// Release deletes the segments wholly before p (consumed and committed).
// The current segment is kept, unless the journal is closed and p is its
// end: then every segment goes. Safe for concurrent use.
func (j *Journal) Release(p Pos) error {
	j.mu.Lock()
	var gone []uint64
	keep := j.segs[:0]
	all := j.closed && !p.Less(j.written) // closed and consumed to its end
	for i, s := range j.segs {
		if (s < p.Seg && i < len(j.segs)-1) || all {
			gone = append(gone, s)
			continue
		}
		keep = append(keep, s)
	}
	j.segs = keep
	j.mu.Unlock()
	var firstErr error
	for _, s := range gone {
		path := filepath.Join(j.opts.Dir, segName(s))
		fi, err := os.Stat(path)
		if err == nil {
			err = os.Remove(path)
		}
		if err != nil && !os.IsNotExist(err) && firstErr == nil {
			firstErr = fmt.Errorf("journal: %w", err)
			continue
		}
		if fi != nil {
			j.disk.Add(-fi.Size())
		}
	}
	return firstErr
}

// Close stops taking records, writes what is pending, and closes the
// segment. Appends after Close fail with ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		<-j.done
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.quit)
	<-j.done
	j.mu.Lock()
	close(j.advanced) // wake a reader waiting for more
	j.advanced = make(chan struct{})
	j.mu.Unlock()
	return j.dir.Close()
}

// finished reports whether the journal is closed and its writer has
// written everything.
func (j *Journal) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}
