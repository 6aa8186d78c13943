package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

func counter(room, v int64) storage.Record {
	return ev(&protocol.Counter{Base: protocol.Base{Kind: protocol.KindCounter, RoomID: room}, Name: "watched", Value: v})
}

// TestDecodedCommitsItsPosition: a Decoded's records and its journal
// position are committed together; Committed is told the latest position
// only after the commit; a failed flush keeps both for the retry.
func TestDecodedCommitsItsPosition(t *testing.T) {
	db, _ := open(t)
	if _, ok, err := db.JournalPosition(context.Background(), 42); ok || err != nil {
		t.Fatalf("a fresh file has a position: %v %v", ok, err)
	}
	db.SQL.Exec("PRAGMA query_only = ON") // the first flushes fail
	var mu sync.Mutex
	var committed []storage.Checkpoint
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: 20 * time.Millisecond,
		Committed: func(c storage.Checkpoint) { mu.Lock(); committed = append(committed, c); mu.Unlock() }})
	ch := make(chan storage.Record)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), ch) }()
	for i := range 10 {
		ch <- storage.Decoded{Records: []storage.Record{counter(1, int64(i)), counter(2, int64(i))},
			At: storage.Checkpoint{JournalID: 42, Seg: 3, Off: int64(100 * (i + 1))}}
	}
	ch <- counter(3, 0) // a record from outside the journal
	mu.Lock()
	none := len(committed) == 0
	mu.Unlock()
	if !none {
		t.Fatal("Committed was called while every flush failed")
	}
	db.SQL.Exec("PRAGMA query_only = OFF")
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	db.SQL.QueryRow("SELECT count(*) FROM counters").Scan(&n)
	cp, ok, err := db.JournalPosition(context.Background(), 42)
	if n != 21 || !ok || err != nil || cp.Seg != 3 || cp.Off != 1000 {
		t.Fatalf("%d counters, position %+v %v %v", n, cp, ok, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(committed) == 0 || committed[len(committed)-1] != cp {
		t.Errorf("Committed saw %v, the database holds %v", committed, cp)
	}
}
