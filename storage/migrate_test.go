package storage

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
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

// v3Rows fills a schema-3 file with rows of every table: the shapes the
// v3 writer made (message ids as keys, x: keys without one, interaction
// keys and like clicks without, mirrored danmaku, both gift commands,
// deleted and kept super chats, a merged guard, counters of several
// names, a super chat delete kept as a room event, NULLs and a blob).
const v3Rows = `
INSERT INTO runs (started_ms, ended_ms, version, args, exit_status) VALUES (1000, 90000, 'v3', '--room 7', 'ok');
INSERT INTO rooms VALUES (7, 70, 5, 'anchor', 'title', 1, 'area', 2, 'parent', 1000, 2000);
INSERT INTO room_snapshots VALUES (1, 1, 1000, 7, 1, 500, 20, 1, 0, 0);
INSERT INTO connections VALUES (1, 1, 7, 'h', 1000, 1100, 80000, 'stopped', 10, 9, 800, 0, 42, 0, 0, 12, 11, 3),
 (1, 2, 7, 'h', 81000, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0);
INSERT INTO danmaku VALUES
 (7, 'f00dbeef0123456789abcdef0123456789a', 'f00dbeef0123456789abcdef0123456789a', 5000, 5008, 123456789012345, '山甜', '签到', 1, 25, 16777215, 'a1776c89', 0, '', 3, '粉', 588256742357289, 7, 3, 14, 0, 0, '', 0, 'DANMU_MSG'),
 (7, 'x:5100:0badf00d:77:3f5dd4e5', '', 5100, 5110, 0, '***', 'old', 1, 25, 255, '0badf00d', 1, '{"e":1}', 0, '', 0, 0, 0, 0, 1, 9, 'r', 1, 'DANMU_MSG_MIRROR'),
 (8, 'f00dbeef0123456789abcdef0123456789ab', 'f00dbeef0123456789abcdef0123456789ab', 5200, 5210, 1, 'u', "a ""quote"" and\nnewline", 4, 18, 1, 'FFFFFFFF', 2, '', 0, '', 0, 0, 0, 0, 0, 0, '', 0, 'DANMU_MSG');
INSERT INTO gifts VALUES
 (7, '1796287512000000059', '1796287512000000059', 6000, 6010, 5, 'g', 31036, '小花花', 2, 100, 200, 'gold', '', 0, 13, '粉', 'SEND_GIFT', 1, 0, 0),
 (7, 'x:5:1:6100:1', '', 6100, 6110, 5, 'g', 1, 'box', 1, 50, 50, 'silver', 'blind', 3, 0, '', 'SEND_GIFT_V2', 0, 160, 50);
INSERT INTO super_chats VALUES (7, 99, 7000, 7010, 5, 's', 30, 'hi', '', 60, 'SUPER_CHAT_MESSAGE', 7500),
 (7, 100, 7100, 7110, 6, 't', 50, 'yo', 'よ', 120, 'SUPER_CHAT_MESSAGE_JPN', NULL);
INSERT INTO guards VALUES (7, '5:3:100', 100000, 100100, 5, 'a', 3, 1, 138000, '月', 'pf-1', 'GUARD_BUY', 198000, 'USER_TOAST_MSG'),
 (7, 'p:pf-2', 100000, 100100, 6, 'b', 3, 1, 138000, '月', 'pf-2', 'USER_TOAST_MSG_V2', 0, 'USER_TOAST_MSG_V2');
INSERT INTO red_pockets VALUES (7, 42, 8000, 8010, 9, 'p', 1600, 1700000000000, 1700000180000, 'POPULARITY_RED_POCKET_V2_START');
INSERT INTO interactions VALUES (7, '1796287512302365270:1', 1796287512302, 1796287512310, 3945195522043980, '夜甜', 1, 0, '', 'INTERACT_WORD_V2'),
 (7, NULL, 0, 1796287512311, 0, '苦夜', 6, 27, '粉0', 'LIKE_INFO_V3_CLICK'),
 (7, '1796287512302365270:2', 1796287512302, 1796287512312, 1, 'f', 2, 0, '', 'INTERACT_WORD');
INSERT INTO counters VALUES (7, 0, 9000, 'popularity', 1), (7, 9001, 9010, 'online_rank_count', 18641), (7, 9002, 9020, 'watched', 300),
 (8, 9003, 9030, 'online_rank_count', 5);
INSERT INTO room_events VALUES (7, 0, 9500, 'LIVE', 'live', '', '', '{"cmd":"LIVE"}'),
 (7, 0, 9600, 'SUPER_CHAT_MESSAGE_DELETE', '', '', '', '[99]');
INSERT INTO combos VALUES (7, 9700, 5, 'g', 31036, '小花花', 3, 300, 'batch:gift:combo_id:5');
INSERT INTO unknown_commands VALUES ('SIM_X', 2, 1000, 2000, '{"cmd":"SIM_X"}');
INSERT INTO malformed VALUES (7, 9800, 'bad json', X'00ff'), (7, 9900, 'empty', NULL);
INSERT INTO raw_messages VALUES (7, 5008, 'DANMU_MSG', '{"cmd":"DANMU_MSG"}');
`

// newV3File makes a schema-3 database at path with the given rows.
func newV3File(t *testing.T, path, rows string) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range migrations[:3] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 3;" + rows); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every row of every registry table that q gives for it
// (nil: the table is skipped), in rowid order.
func readAll(t *testing.T, db *sql.DB, q func(*Table) string) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	for _, tab := range Tables() {
		query := q(tab)
		if query == "" {
			continue
		}
		rows, err := db.Query(query)
		if err != nil {
			t.Fatalf("%s: %v", tab.Name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[tab.Name] = append(out[tab.Name], vals)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestMigrateV3ToV4: a schema-3 file with rows of every table is
// converted in place: every table reads (ScanTable, export's columns,
// and a plain SELECT of the view that now has its name) exactly what it
// held before, row for row in the same order, export's
// JSON of each row is the same, stats say the same, and the writer
// recognises the converted keys (a copy of a stored danmaku, gift or
// interaction adds no row).
func TestMigrateV3ToV4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	newV3File(t, path, v3Rows)
	isV3 := map[string]bool{"commands": false, "counter_names": false, "medals": false, "journal_position": false,
		"database_id": false, "merged_inputs": false, "merge_progress": false, "unstored_events": false}
	// Columns v4 added to a v3 table are left out of the comparison.
	v3Cols := func(tab *Table) string {
		if tab.Name == "runs" {
			return "id, started_ms, ended_ms, version, args, exit_status"
		}
		return strings.Join(tab.ColumnNames(), ", ")
	}
	v3, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	// In v3 every column as read now was a plain column of that name.
	before := readAll(t, v3, func(tab *Table) string {
		if ok, listed := isV3[tab.Name]; listed && !ok {
			return ""
		}
		return "SELECT " + v3Cols(tab) + " FROM " + tab.Name + " ORDER BY rowid"
	})
	v3.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	sumBefore, err := ro.summarize(ctx, 100000)
	ro.Close()
	if err != nil {
		t.Fatal(err)
	}

	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v int
	d.SQL.QueryRow("PRAGMA user_version").Scan(&v)
	if v != 4 || SchemaVersion() != 4 {
		t.Fatalf("user_version %d, SchemaVersion %d", v, SchemaVersion())
	}
	after := readAll(t, d.SQL, func(tab *Table) string {
		if ok, listed := isV3[tab.Name]; listed && !ok {
			return ""
		}
		if tab.Name == "runs" {
			return "SELECT " + v3Cols(tab) + " FROM runs ORDER BY rowid"
		}
		return tab.Select()
	})
	// What a reader's query sees: the views show the tables as they were.
	views := readAll(t, d.SQL, func(tab *Table) string {
		if ok, listed := isV3[tab.Name]; listed && !ok {
			return ""
		}
		return "SELECT " + v3Cols(tab) + " FROM " + tab.Name
	})
	for name, rows := range before {
		if len(rows) == 0 {
			t.Errorf("%s: the fixture has no rows", name)
		}
		if !reflect.DeepEqual(rows, after[name]) {
			t.Errorf("%s changed:\nbefore %v\nafter  %v", name, rows, after[name])
		}
		if !reflect.DeepEqual(rows, views[name]) {
			t.Errorf("%s reads differently:\nbefore %v\nnow    %v", name, rows, views[name])
		}
	}
	for _, et := range EventTables() {
		for i, row := range before[et.Name] {
			if i < len(after[et.Name]) && string(et.AppendJSON(nil, row)) != string(et.AppendJSON(nil, after[et.Name][i])) {
				t.Errorf("%s row %d: export JSON differs", et.Name, i)
			}
		}
	}
	sumAfter, err := d.summarize(ctx, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sumBefore, sumAfter) {
		t.Errorf("stats changed:\nbefore %+v\nafter  %+v", sumBefore, sumAfter)
	}
	var cmds, names, medals, danmakuKept int64
	d.SQL.QueryRow("SELECT count(*) FROM commands").Scan(&cmds)
	d.SQL.QueryRow("SELECT count(*) FROM counter_names").Scan(&names)
	d.SQL.QueryRow("SELECT count(*) FROM medals").Scan(&medals)
	d.SQL.QueryRow("SELECT count(*) FROM danmaku_rows WHERE dedup_key IS NOT NULL").Scan(&danmakuKept)
	if cmds != 14 || names != 3 || medals != 2 || danmakuKept != 1 {
		t.Errorf("commands %d, counter names %d, medals %d, danmaku keys kept beside id_str %d", cmds, names, medals, danmakuKept)
	}

	// The writer's keys are the migrated ones: copies add nothing, a
	// gift copy still adds what the first lacked.
	w := NewWriter(d, WriterOptions{RunID: 2})
	ch := make(chan Record, 8)
	base := func(k protocol.Kind, cmd string) protocol.Base {
		return protocol.Base{Kind: k, Cmd: cmd, RoomID: 7}
	}
	ch <- Event{E: &protocol.Danmaku{Base: base(protocol.KindDanmaku, "DANMU_MSG_MIRROR"), IDStr: "f00dbeef0123456789abcdef0123456789a", Text: "签到"}, RecvMs: 1}
	ch <- Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 7, TsMs: 5100},
		MidHash: "0badf00d", Rnd: 77, Text: "old"}, RecvMs: 2}
	ch <- Event{E: &protocol.Gift{Base: base(protocol.KindGift, "SEND_GIFT_V2"), TID: "1796287512000000059", BlindPrice: 77}, RecvMs: 3}
	ch <- Event{E: &protocol.Interact{Base: base(protocol.KindInteract, "INTERACT_WORD"), TriggerTimeNs: 1796287512302365270, MsgType: 2}, RecvMs: 4}
	close(ch)
	if err := w.Run(ctx, ch); err != nil {
		t.Fatal(err)
	}
	var dm, gifts, inter, blind int64
	d.SQL.QueryRow("SELECT count(*) FROM danmaku").Scan(&dm)
	d.SQL.QueryRow("SELECT count(*), max(blind_price) FROM gifts").Scan(&gifts, &blind)
	d.SQL.QueryRow("SELECT count(*) FROM interactions").Scan(&inter)
	if dm != 3 || gifts != 2 || inter != 3 || blind != 160 {
		t.Errorf("after copies of stored events: %d danmaku, %d gifts (blind price %d), %d interactions", dm, gifts, blind, inter)
	}
	var blind1 int64
	d.SQL.QueryRow("SELECT blind_price FROM gifts WHERE tid = '1796287512000000059'").Scan(&blind1)
	if blind1 != 77 {
		t.Errorf("the gift copy's blind price was not kept: %d", blind1)
	}
}

// TestMigrateV4Refuses: a v3 file whose interactions keys do not split
// into trigger time and type is not converted, nor one where the
// migration fails halfway (here: a table in the way of one it creates):
// Open says why, and the file is still v3 with its rows, none of the
// migration's work in it.
func TestMigrateV4Refuses(t *testing.T) {
	for _, c := range []struct{ name, extra, want string }{
		{"unsplittable key", `INSERT INTO interactions VALUES (7, 'hand-made', 0, 1, 1, 'h', 1, 0, '', 'INTERACT_WORD');`, `"hand-made"`},
		{"halfway", `CREATE TABLE gifts_rows (x);`, "gifts_rows already exists"},
	} {
		path := filepath.Join(t.TempDir(), "v3.db")
		newV3File(t, path, v3Rows+c.extra)
		d, err := Open(path)
		if err == nil {
			d.Close()
			t.Fatalf("%s: migrated", c.name)
		}
		if !strings.Contains(err.Error(), "cannot migrate to v4 (the file is left at v3)") || !strings.Contains(err.Error(), c.want) ||
			!strings.Contains(err.Error(), path) {
			t.Errorf("%s: error: %v", c.name, err)
		}
		ro, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		var v, n, lookups int
		ro.SQL.QueryRow("PRAGMA user_version").Scan(&v)
		ro.SQL.QueryRow("SELECT count(*) FROM danmaku WHERE dedup_key = id_str").Scan(&n)
		ro.SQL.QueryRow("SELECT count(*) FROM sqlite_master WHERE name IN ('commands', 'danmaku_rows', 'journal_position')").Scan(&lookups)
		ro.Close()
		if v != 3 || n != 2 || lookups != 0 {
			t.Errorf("%s: after the refusal: user_version %d, %d v3 danmaku keys, %d v4 tables", c.name, v, n, lookups)
		}
	}
}
