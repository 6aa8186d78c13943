package storage

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
)

// TestWriterPreparesOncePerWriter: the INSERTs are prepared once for the
// writer and reused by every flush (one flush per record here), the rows
// all land, and Run closes the statements when it returns.
func TestWriterPreparesOncePerWriter(t *testing.T) {
	db := openInternal(t)
	w := NewWriter(db, WriterOptions{RunID: 1, BatchMax: 1, FlushInterval: time.Hour})
	in := make(chan Record)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), in) }()
	var seen map[string]bool
	for i := range 5 {
		in <- Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 7, TsMs: int64(i)},
			IDStr: string(rune('a' + i)), Text: "x"}, RecvMs: int64(i)}
		in <- Event{E: &protocol.Counter{Base: protocol.Base{Kind: protocol.KindCounter, Cmd: "WATCHED_CHANGE", RoomID: 7}, Name: "watched", Value: int64(i)}, RecvMs: int64(i)}
		if i == 0 {
			continue
		}
		// Run's goroutine owns w.prepared; it is idle on the unbuffered
		// channel once the next send is taken, so read it after one.
		in <- Event{E: &protocol.Control{Base: protocol.Base{Kind: protocol.KindControl, RoomID: 7}}}
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
	if w.Stats.Inserted("danmaku") != 5 || w.Stats.Inserted("counters") != 5 || w.Stats.Flushes.Load() < 10 {
		t.Errorf("danmaku %d, counters %d rows in %d flushes", w.Stats.Inserted("danmaku"), w.Stats.Inserted("counters"), w.Stats.Flushes.Load())
	}
}
