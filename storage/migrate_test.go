package storage

import (
	"context"

	"database/sql"
	"github.com/danmakud/danmakud/protocol"
	"path/filepath"
	"testing"
)

// TestMigrateFromV1: a file written by schema v1 is upgraded in place.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 1; INSERT INTO runs (started_ms, version, args) VALUES (1, 'old', '')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v, runs, raw int
	d.SQL.QueryRow("PRAGMA user_version").Scan(&v)
	d.SQL.QueryRow("SELECT count(*) FROM runs").Scan(&runs)
	if err := d.SQL.QueryRow("SELECT count(*) FROM raw_messages").Scan(&raw); err != nil || v != len(migrations) || runs != 1 {
		t.Errorf("after migration: version %d, runs %d, raw_messages %v", v, runs, err)
	}
}

// TestMigrateFromV2: a file written by schema v2, with rows in it, is
// upgraded to v3 in place: every row kept, the new columns at their
// defaults, and the old guards' price said where it came from.
func TestMigrateFromV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 2;
INSERT INTO runs (started_ms, version, args) VALUES (1, 'old', '');
INSERT INTO connections (run_id, seq, room_id, host, started_ms, authed_ms, ended_ms, end_reason, frames, events, bytes, bad_frames)
 VALUES (1, 1, 7, 'h', 1000, 1100, 5000, 'stopped', 10, 9, 800, 0);
INSERT INTO guards (room_id, purchase_key, ts_ms, recv_ms, uid, uname, guard_level, num, price, unit, payflow_id, cmd)
 VALUES (7, '5:3:100', 100000, 100100, 5, 'a', 3, 1, 198000, '', 'pf-1', 'GUARD_BUY'),
        (7, '6:3:100', 100000, 100100, 6, 'b', 3, 1, 138000, '月', 'pf-2', 'USER_TOAST_MSG');
INSERT INTO gifts (room_id, dedup_key, tid, ts_ms, recv_ms, uid, uname, gift_id, gift_name, num, price, total_coin, coin_type,
 blind_gift_name, guard_level, medal_level, medal_name, cmd) VALUES (7, 't1', 't1', 1, 2, 3, 'c', 1, 'g', 1, 100, 100, 'gold', '', 0, 0, '', 'SEND_GIFT');
INSERT INTO raw_messages (room_id, recv_ms, cmd, body) VALUES (7, 1, 'X', '{}');`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v int
	d.SQL.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion() || SchemaVersion() < 3 {
		t.Errorf("user_version %d, SchemaVersion %d", v, SchemaVersion())
	}
	var uid, anon, sampled sql.NullInt64
	var seen, arrived, acks, frames int64
	if err := d.SQL.QueryRow("SELECT uid, anonymous, sampled, hist_seen, hist_arrived, acks, frames FROM connections").Scan(
		&uid, &anon, &sampled, &seen, &arrived, &acks, &frames); err != nil {
		t.Fatal(err)
	}
	if uid.Valid || anon.Valid || sampled.Valid || seen != 0 || arrived != 0 || acks != 0 || frames != 10 {
		t.Errorf("old connection: uid %v anonymous %v sampled %v hist %d/%d acks %d frames %d", uid, anon, sampled, arrived, seen, acks, frames)
	}
	type g struct {
		Price, List int64
		Source      string
	}
	var gs []g
	rows, err := d.SQL.Query("SELECT price, list_price, price_source FROM guards ORDER BY uid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x g
		rows.Scan(&x.Price, &x.List, &x.Source)
		gs = append(gs, x)
	}
	rows.Close()
	if len(gs) != 2 || gs[0] != (g{198000, 198000, "GUARD_BUY"}) || gs[1] != (g{138000, 0, "USER_TOAST_MSG"}) {
		t.Errorf("old guards: %+v", gs)
	}
	var bag, blind, prize, gifts, raw, pockets int64
	d.SQL.QueryRow("SELECT count(*), sum(bag_gift), sum(blind_price), sum(prize_value) FROM gifts").Scan(&gifts, &bag, &blind, &prize)
	d.SQL.QueryRow("SELECT count(*) FROM raw_messages").Scan(&raw)
	if err := d.SQL.QueryRow("SELECT count(*) FROM red_pockets").Scan(&pockets); err != nil || gifts != 1 || bag+blind+prize != 0 || raw != 1 {
		t.Errorf("gifts %d (extras %d %d %d), raw %d, red_pockets: %v", gifts, bag, blind, prize, raw, err)
	}
	// A toast arriving after the upgrade joins the old GUARD_BUY row.
	w := NewWriter(d, WriterOptions{RunID: 1})
	ch := make(chan Record, 1)
	ch <- Event{E: &protocol.Guard{Base: protocol.Base{Kind: protocol.KindGuard, Cmd: "USER_TOAST_MSG", RoomID: 7, TsMs: 100000},
		UID: 5, GuardLevel: 3, Num: 1, Price: 138000, Unit: "月", StartTime: 100, PayflowID: "pf-1"}, RecvMs: 100200}
	close(ch)
	if err := w.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	var n, price, list int64
	d.SQL.QueryRow("SELECT count(*), sum(price), sum(list_price) FROM guards WHERE uid = 5").Scan(&n, &price, &list)
	if n != 1 || price != 138000 || list != 198000 {
		t.Errorf("toast after the upgrade: %d rows, price %d, list %d", n, price, list)
	}
}

// TestSummarizeV2File: stats opens files read-only and unmigrated; a v2
// file (no red_pockets, no connection identity columns) still summarizes.
func TestSummarizeV2File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 2;
INSERT INTO runs (started_ms, ended_ms, version, args) VALUES (1000, 9000, 'old', '');
INSERT INTO connections (run_id, seq, room_id, host, started_ms, authed_ms, ended_ms) VALUES (1, 1, 7, 'h', 1000, 2000, 5000);`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s, err := ro.Summarize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Rows["red_pockets"]; ok || s.Rows["connections"] != 1 || len(s.Connections) != 1 ||
		s.Connections[0].Wanted != 4 || s.Connections[0].Connected != 3 || s.Connections[0].Coverage != nil {
		t.Errorf("v2 summary: rows %v, connections %+v", s.Rows, s.Connections)
	}
}
