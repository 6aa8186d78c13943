package storage

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/protocol"
)

// TestWriterPreparesOncePerWriter: the INSERTs are prepared once for the
// writer and reused by every flush (at least one per pair of records), the rows
// all land, and Run closes the statements when it returns.
func TestWriterPreparesOncePerWriter(t *testing.T) {
	db := openInternal(t)
	mx := metrics.New("test")
	w := NewWriter(db, WriterOptions{RunID: 1, BatchMax: 1, FlushInterval: time.Hour, Observer: mx})
	in := make(chan Record)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), in) }()
	var seen map[string]bool
	for i := range 5 {
		in <- Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 7, TsMs: int64(i)},
			IDStr: string(rune('a' + i)), Text: "x"}, RecvMs: int64(i)}
		in <- Event{E: &protocol.Counter{Base: protocol.Base{Kind: protocol.KindCounter, Cmd: "WATCHED_CHANGE", RoomID: 7}, Name: "watched", Value: int64(i)}, RecvMs: int64(i)}
		// The flush goroutine prepares before it commits and reports the
		// rows (to atomic counters) after: once both rows are counted, every
		// statement they needed is in w.prepared, and later flushes of
		// these tables only read it.
		deadline := time.Now().Add(10 * time.Second)
		for mx.RowsWritten("danmaku") != int64(i+1) || mx.RowsWritten("counters") != int64(i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("record %d not committed after 10 s", i)
			}
			runtime.Gosched()
		}
		if i == 0 {
			continue
		}
		got := map[string]bool{}
		for q := range w.prepared {
			got[q] = true
		}
		if seen != nil && len(got) != len(seen) {
			t.Fatalf("flush %d: %d prepared statements, %d before: prepared again", i, len(got), len(seen))
		}
		seen = got
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !seen[tDanmaku.insert] || !seen[tCounters.insert] || len(seen) != 2 {
		t.Errorf("prepared %v, want the danmaku and counters INSERTs", seen)
	}
	if len(w.prepared) != 0 {
		t.Errorf("%d statements left open after Run", len(w.prepared))
	}
	if mx.RowsWritten("danmaku") != 5 || mx.RowsWritten("counters") != 5 || mx.Totals().Flushes < 5 {
		t.Errorf("danmaku %d, counters %d rows in %d flushes", mx.RowsWritten("danmaku"), mx.RowsWritten("counters"), mx.Totals().Flushes)
	}
}

// TestSlowCommitDoesNotStopProducers: while a flush waits on the disk
// (here: on another connection's write lock), Run keeps taking records,
// up to PendingMax; they all land once the flush can commit.
func TestSlowCommitDoesNotStopProducers(t *testing.T) {
	db := openInternal(t)
	other, err := sql.Open("sqlite", db.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	mx := metrics.New("test")
	w := NewWriter(db, WriterOptions{RunID: 1, BatchMax: 10, PendingMax: 5000, FlushInterval: time.Hour, Observer: mx})
	in := make(chan Record) // unbuffered: a send completes only when Run takes it
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, in) }()
	const n = 1000
	sent := make(chan struct{})
	go func() {
		for i := range n {
			in <- Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 7, TsMs: int64(i)},
				IDStr: fmt.Sprint("id-", i), Text: "x"}, RecvMs: int64(i)}
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second): // the lock is held 10 s at most (busy_timeout)
		t.Fatalf("the producer was stopped by a flush waiting on the disk: %d of %d records taken", mx.Totals().Records, n)
	}
	if got := mx.RowsWritten("danmaku"); got != 0 {
		t.Fatalf("%d rows committed while the database was locked", got)
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := mx.RowsWritten("danmaku"); got != n {
		t.Errorf("%d of %d danmaku committed", got, n)
	}
}
