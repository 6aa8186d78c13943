package daemon_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
	_ "modernc.org/sqlite"
)

// TestWriterStallReadersGoOn: while traffic flows, another connection
// holds the database's write lock, so the writer cannot commit for longer
// than the server keeps a client that stops reading (10 s). The readers
// never wait for it: no connection is cut, the simulator drops nothing
// for a slow reader, and once the lock is released everything delivered
// is stored (the backlog waited in the journal). CI: 200 rooms, the
// writer stalled 12 s; soak (DANMAKUD_SOAK=1): 1,000 rooms, 60 s.
func TestWriterStallReadersGoOn(t *testing.T) {
	rooms, rate, stall := 200, 2000.0, 12*time.Second
	if testkit.Soak() {
		rooms, rate, stall = 1000, 10000, 60*time.Second
	}
	sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: rate, Seed: 12, Tick: 100 * time.Millisecond,
		HTTPRate: 10000, HTTPBurst: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "stall.db")
	cfg := testrun.Config(sim.URL(), db)
	cfg.Top, cfg.HTTPRate, cfg.Watchdog, cfg.Heartbeat = rooms, 1000, -1, 5*time.Second
	cfg.FlushInterval = time.Second
	run := testrun.Start(t, cfg)
	d := run.D
	testkit.Poll(t, 60*time.Second, "every room connected", func() bool { return d.Totals().RoomsConnected == int64(rooms) })

	// The stall: an exclusive write transaction held by another
	// connection (the writer's flushes wait for it, then fail as busy and
	// are retried).
	other, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(30000)") // waits for a flush in progress
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("taking the write lock: %v", err)
	}
	before := d.Totals()
	stalled := time.NewTimer(stall)
	select {
	case <-stalled.C:
	case <-run.Ended():
		err := run.Err()
		t.Fatalf("the run ended while the writer was stalled: %v", err)
	}
	during := d.Totals()
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	sim.StopTraffic()
	testkit.Poll(t, 5*time.Minute, "everything read stored", func() bool {
		tt := d.Totals()
		return sim.Idle() && tt.Events > during.Events && tt.Rows >= tt.Events-tt.Dups
	})
	if _, err := run.Stop(); err != nil {
		t.Fatalf("collect: %v", err)
	}
	st := sim.Stats()
	t.Logf("writer stalled %v at %d rooms: %d frames read during the stall, %d rows before it; sim wrote %d frames, dropped %d; %d flush errors",
		stall, rooms, during.Frames-before.Frames, before.Rows, st.FramesWritten, st.FramesDropped, during.FlushErrors)
	if during.Frames-before.Frames == 0 {
		t.Error("nothing was read while the writer was stalled")
	}
	if st.FramesDropped != 0 {
		t.Errorf("the simulator dropped %d frames for slow readers", st.FramesDropped)
	}
	got := testkit.Summary(t, db)
	for _, c := range got.Connections {
		if c.Connections != 1 {
			t.Errorf("room %d: %d connections, want the one it kept throughout; they ended: %s", c.RoomID, c.Connections, endReasons(t, db, c.RoomID))
		}
	}
	truth := sim.Truth()
	for room, kinds := range truth.Rooms {
		for k, n := range kinds {
			if got.Rooms[room].Kinds[k] != n {
				t.Errorf("room %s %s: stored %d, simulator delivered %d", room, k, got.Rooms[room].Kinds[k], n)
			}
		}
	}
}

// endReasons lists how a room's connections ended, with their times
// (unix ms), for a failure message.
func endReasons(t *testing.T, db string, room int64) string {
	t.Helper()
	ro, err := storage.OpenReadOnly(db)
	if err != nil {
		return err.Error()
	}
	defer ro.Close()
	rows, err := ro.SQL.Query("SELECT authed_ms, ended_ms, coalesce(end_reason, '') FROM connections WHERE room_id = ? ORDER BY seq", room)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var authed, ended sql.NullInt64
		var reason string
		if err := rows.Scan(&authed, &ended, &reason); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("authed %d, ended %d: %q", authed.Int64, ended.Int64, reason))
	}
	return strings.Join(out, "; ")
}
