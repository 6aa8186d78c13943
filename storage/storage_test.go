package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) (*storage.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// write runs a writer over recs and waits for its final flush; the
// returned metrics handle saw what the writer did.
func write(t *testing.T, db *storage.DB, recs ...storage.Record) *metrics.Metrics {
	t.Helper()
	mx := metrics.New("test")
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: time.Hour, Observer: mx})
	ch := make(chan storage.Record, len(recs))
	for _, r := range recs {
		ch <- r
	}
	close(ch)
	if err := w.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	return mx
}

func ev(e protocol.Event) storage.Record { return storage.Event{E: e, RecvMs: 1700000000000} }

func TestSchemaVersionAndWAL(t *testing.T) {
	db, path := open(t)
	var v int
	var mode string
	db.SQL.QueryRow("PRAGMA user_version").Scan(&v)
	db.SQL.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if v != storage.SchemaVersion() || mode != "wal" {
		t.Errorf("user_version %d, journal_mode %s", v, mode)
	}
	db.Close()
	// Reopening migrates nothing and keeps the version.
	db2, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
	ro, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
}

func TestLock(t *testing.T) {
	_, path := open(t)
	if _, err := storage.Open(path); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestDuplicatesAreImpossible(t *testing.T) {
	db, _ := open(t)
	d := &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 1}, IDStr: "abc", Text: "hi"}
	mirror := *d
	mirror.Cmd, mirror.IsMirror = "DANMU_MSG_MIRROR", true
	otherRoom := *d
	otherRoom.RoomID = 2
	g := &protocol.Gift{Base: protocol.Base{Kind: protocol.KindGift, Cmd: "SEND_GIFT", RoomID: 1}, TID: "t1", Num: 1}
	g2 := *g
	g2.Cmd = "SEND_GIFT_V2"
	buy := &protocol.Guard{Base: protocol.Base{Kind: protocol.KindGuard, Cmd: "GUARD_BUY", RoomID: 1}, UID: 5, GuardLevel: 3, StartTime: 100}
	toast := *buy
	toast.Cmd, toast.PayflowID = "USER_TOAST_MSG", "pf-1"
	sc := &protocol.SuperChat{Base: protocol.Base{Kind: protocol.KindSuperChat, RoomID: 1}, ID: 9}
	in := &protocol.Interact{Base: protocol.Base{Kind: protocol.KindInteract, RoomID: 1}, TriggerTimeNs: 123, MsgType: 1}
	like := &protocol.Interact{Base: protocol.Base{Kind: protocol.KindInteract, RoomID: 1}, MsgType: 6}
	mx := write(t, db, ev(d), ev(d), ev(&mirror), ev(&otherRoom), ev(g), ev(&g2), ev(buy), ev(&toast), ev(sc), ev(sc), ev(in), ev(in), ev(like), ev(like))
	got, err := db.RoomKinds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"danmaku": 1, "gift": 1, "super_chat": 1, "guard": 1, "interact": 3}
	for k, n := range want {
		if got["1"][k] != n {
			t.Errorf("room 1 %s = %d, want %d", k, got["1"][k], n)
		}
	}
	if got["2"]["danmaku"] != 1 {
		t.Errorf("the same id in another room is another danmaku: %v", got["2"])
	}
	if n := mx.Totals().Dups; n != 6 {
		t.Errorf("dups %d, want 6", n)
	}
	var payflow string
	db.SQL.QueryRow("SELECT payflow_id FROM guards").Scan(&payflow)
	if payflow != "pf-1" {
		t.Errorf("the toast's payflow id was not kept: %q", payflow)
	}
}

// TestFailedFlushKeepsRecords: while the database refuses writes (a
// stalled or full disk), flushes fail, nothing is dropped, and the next
// flush after recovery writes everything.
func TestFailedFlushKeepsRecords(t *testing.T) {
	db, _ := open(t)
	if _, err := db.SQL.Exec("PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	mx := metrics.New("test")
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: 20 * time.Millisecond, Observer: mx})
	ch := make(chan storage.Record)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), ch) }()
	for i := 0; i < 100; i++ {
		ch <- ev(&protocol.Counter{Base: protocol.Base{Kind: protocol.KindCounter, RoomID: 1}, Name: "watched", Value: int64(i)})
	}
	testkit.Poll(t, 5*time.Second, "two failed flushes", func() bool { return mx.Totals().FlushErrors >= 2 })
	if _, err := db.SQL.Exec("PRAGMA query_only = OFF"); err != nil {
		t.Fatal(err)
	}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	db.SQL.QueryRow("SELECT count(*) FROM counters").Scan(&n)
	if n != 100 {
		t.Errorf("%d of 100 counters written after recovery", n)
	}
}

func TestHardStopReportsLoss(t *testing.T) {
	db, _ := open(t)
	db.SQL.Exec("PRAGMA query_only = ON")
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: time.Hour})
	ch := make(chan storage.Record, 1)
	ch <- ev(&protocol.Counter{Base: protocol.Base{Kind: protocol.KindCounter, RoomID: 1}})
	close(ch)
	if err := w.Run(context.Background(), ch); err == nil {
		t.Fatal("a final flush that failed was not reported")
	}
}

// A database being written holds connections that have not ended yet
// (no end_reason): stats must read it, as researchers query while
// collect runs.
func TestSummarizeWithOpenConnections(t *testing.T) {
	db, _ := open(t)
	if _, err := db.StartRun(context.Background(), storage.RunInfo{Version: "test", Args: ""}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	write(t, db,
		storage.Conn{Seq: 1, RoomID: 5, Host: "h", StartedMs: now - 10000, AuthedMs: now - 9000},
		storage.Conn{Seq: 2, RoomID: 6, Host: "h", StartedMs: now - 10000, AuthedMs: now - 9000, EndedMs: now - 1000, EndReason: "stalled: no data", Bad: 2},
	)
	s, err := db.Summarize(context.Background())
	if err != nil {
		t.Fatalf("Summarize with a connection still open: %v", err)
	}
	if len(s.Connections) != 2 || s.Connections[0].RoomID != 5 || s.Connections[0].Stalled != 0 || s.Connections[1].Stalled != 1 || s.Connections[1].BadFrames != 2 {
		t.Errorf("coverage %+v", s.Connections)
	}
}
