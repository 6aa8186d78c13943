package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// benchRecords builds n records in the whole-site mix (danmaku, enters,
// gifts, counters) spread over rooms rooms, each with a fresh unique id,
// as the writer receives them from thousands of connections at once.
func benchRecords(n, rooms int) []storage.Record { return benchRecordsSeeded(n, rooms, 1) }

// benchRecordsSeeded is benchRecords from another seed: other ids.
func benchRecordsSeeded(n, rooms int, seed uint64) []storage.Record {
	rng := rand.New(rand.NewPCG(seed, 2))
	recs := make([]storage.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		room := int64(21000000 + rng.IntN(rooms))
		b := func(kind protocol.Kind, cmd string) protocol.Base {
			return protocol.Base{Kind: kind, Cmd: cmd, RoomID: room, TsMs: now}
		}
		var e protocol.Event
		switch p := rng.IntN(100); {
		case p < 50:
			e = &protocol.Danmaku{Base: b(protocol.KindDanmaku, "DANMU_MSG"), UID: rng.Int64N(4e15), Uname: "用户" + fmt.Sprint(i%1000),
				Text: "主播好厉害哈哈哈", IDStr: fmt.Sprintf("%032x", rng.Uint64()), MidHash: "9be3e0a3", CheckTs: now / 1000, CheckCt: "0A1B2C3D"}
		case p < 80:
			e = &protocol.Interact{Base: b(protocol.KindInteract, "INTERACT_WORD"), UID: rng.Int64N(4e15), Uname: "u", MsgType: 1,
				TriggerTimeNs: now*1e6 + int64(i)}
		case p < 90:
			e = &protocol.Gift{Base: b(protocol.KindGift, "SEND_GIFT"), UID: rng.Int64N(4e15), GiftID: 31036, Num: 1, Price: 100,
				TID: fmt.Sprintf("%d%09d", now/1000, i)}
		default:
			e = &protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE"), Name: "watched", Value: int64(i)}
		}
		recs[i] = storage.Event{E: e, RecvMs: now}
	}
	return recs
}

// cpuTime is the process's user+system CPU time so far (getrusage).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriter: rows/s of the single SQLite writer (one transaction
// per WriterOptions.BatchMax records, its default) into a database that grows to b.N
// rows over 10,000 rooms. Run with -benchtime 1000000x or more: the cost
// per row grows with the indexes. Besides wall time it reports the
// process's CPU time per row (cpu-ns/row, from getrusage: steadier than
// ns/op on a shared machine) and the database file's size per row
// (B/row, file and -wal after the writer's last commit).
// rowCounter is a WriterObserver that only sums the rows inserted (the
// benchmark measures the writer, not a metrics registry).
type rowCounter struct{ n atomic.Int64 }

func (c *rowCounter) WriterRecord(int) {}
func (c *rowCounter) FlushFailed()     {}
func (c *rowCounter) Flushed(_ time.Duration, rows map[string]int64, _, _ int64, _ int) {
	for _, n := range rows {
		c.n.Add(n)
	}
}

func BenchmarkWriter(b *testing.B) {
	recs := benchRecords(b.N, 10000)
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := storage.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.StartRun(context.Background(), storage.RunInfo{Version: "bench", Args: ""}); err != nil {
		b.Fatal(err)
	}
	var rows rowCounter
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: time.Hour, Observer: &rows})
	ch := make(chan storage.Record, 65536)
	done := make(chan error, 1)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	go func() { done <- w.Run(context.Background(), ch) }()
	for _, r := range recs {
		ch <- r
	}
	close(ch)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	if got := rows.n.Load(); got != int64(b.N) {
		b.Fatalf("%d rows written of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
	var size int64
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "B/row")
}

// writeBenchFile writes n benchRecords (from seed) with the writer into
// a new file at path, in one run.
func writeBenchFile(b *testing.B, path string, n int, seed uint64) {
	b.Helper()
	db, err := storage.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run, err := db.StartRun(context.Background(), storage.RunInfo{Version: "bench", Shard: fmt.Sprintf("%d/2", seed-1)})
	if err != nil {
		b.Fatal(err)
	}
	w := storage.NewWriter(db, storage.WriterOptions{RunID: run, FlushInterval: time.Hour})
	ch := make(chan storage.Record, 65536)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), ch) }()
	for _, r := range benchRecordsSeeded(n, 10000, seed) {
		ch <- r
	}
	close(ch)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMerge: rows/s of Merge, two files of b.N/2 rows each (the
// writer's mix over 10,000 rooms, different events) into a new file.
// Run with -benchtime 1000000x or more; the files are built first,
// outside the timing.
func BenchmarkMerge(b *testing.B) {
	dir := b.TempDir()
	ins := []string{filepath.Join(dir, "s0.db"), filepath.Join(dir, "s1.db")}
	for i, p := range ins {
		writeBenchFile(b, p, b.N/2, uint64(i+1))
	}
	b.ResetTimer()
	res, err := storage.Merge(context.Background(), filepath.Join(dir, "out.db"), ins, storage.MergeOptions{})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Added < int64(b.N/2*2) {
		b.Fatalf("added %d rows of %d", res.Added, b.N)
	}
	b.ReportMetric(float64(res.Read)/b.Elapsed().Seconds(), "rows/s")
}
