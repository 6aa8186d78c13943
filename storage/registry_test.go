package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRegistryMatchesSchema: the registry and what the migrations build
// name the same tables with the same columns (name, type, nullability)
// in the same order (a table with a Store: its stored table), each such
// table's view is exactly the one the registry reads it as, and every
// table's INSERT and read query prepare against it.
func TestRegistryMatchesSchema(t *testing.T) {
	db := openInternal(t)
	objects := map[string]string{} // name → type
	rows, err := db.SQL.Query("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, typ string
		rows.Scan(&n, &typ)
		objects[n] = typ
	}
	rows.Close()
	inReg := map[string]string{}
	for _, tab := range Tables() {
		inReg[tab.Stored()] = "table"
		if tab.Store != "" {
			inReg[tab.Name] = "view"
		}
	}
	if !reflect.DeepEqual(objects, inReg) {
		t.Errorf("schema has %v, registry %v", objects, inReg)
	}
	for _, tab := range Tables() {
		rows, err := db.SQL.Query("SELECT name, type, \"notnull\" FROM pragma_table_info(?) ORDER BY cid", tab.Stored())
		if err != nil {
			t.Fatal(err)
		}
		var got []Column
		for rows.Next() {
			var c Column
			var notNull int
			if err := rows.Scan(&c.Name, &c.Type, &notNull); err != nil {
				t.Fatal(err)
			}
			c.Null = notNull == 0
			got = append(got, c)
		}
		rows.Close()
		if len(got) == 0 {
			t.Errorf("registry table %s is not in the schema", tab.Stored())
			continue
		}
		if len(got) != len(tab.Columns) {
			t.Errorf("%s: schema has %d columns, registry %d", tab.Name, len(got), len(tab.Columns))
		}
		for i := range min(len(got), len(tab.Columns)) {
			r := tab.Columns[i]
			if got[i].Name != r.Name || got[i].Type != r.Type || got[i].Null != r.Null {
				t.Errorf("%s column %d: schema %s %s null=%v, registry %s %s null=%v", tab.Name, i,
					got[i].Name, got[i].Type, got[i].Null, r.Name, r.Type, r.Null)
			}
		}
		if tab.Store != "" {
			var view string
			db.SQL.QueryRow("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?", tab.Name).Scan(&view)
			if view != tab.viewSQL() {
				t.Errorf("view %s is\n%s\nthe registry reads it as\n%s", tab.Name, view, tab.viewSQL())
			}
		}
		for _, q := range []string{tab.Insert(), tab.Select(), "SELECT " + strings.Join(tab.ColumnNames(), ", ") + " FROM " + tab.Name} {
			st, err := db.SQL.Prepare(q)
			if err != nil {
				t.Errorf("%s: %q: %v", tab.Name, q, err)
				continue
			}
			st.Close()
		}
	}
}

// TestRouting: every record type and every event kind the protocol
// decodes reaches a table (or is knowingly skipped), and each table with
// a writer gets exactly the kinds it declares.
func TestRouting(t *testing.T) {
	kinds := []protocol.Kind{protocol.KindDanmaku, protocol.KindGift, protocol.KindCombo, protocol.KindSuperChat,
		protocol.KindSuperChatDelete, protocol.KindGuard, protocol.KindInteract, protocol.KindCounter, protocol.KindRoom,
		protocol.KindOther, kindRedPocket}
	for _, k := range kinds {
		tab := kindTable[k]
		if tab == nil || (tab.put == nil && tab.row == nil) {
			t.Errorf("kind %s has no table with a writer", k)
		}
	}
	for _, r := range []Record{Conn{}, Snapshot{}, RoomMeta{}, Raw{}, Malformed{}} {
		tab, err := tableFor(r)
		if err != nil || tab == nil || (tab.put == nil && tab.row == nil) {
			t.Errorf("%T: table %v, %v", r, tab, err)
		}
	}
	if tab, err := tableFor(Event{E: &protocol.Control{Base: protocol.Base{Kind: protocol.KindControl}}}); tab != nil || err != nil {
		t.Errorf("control events are stored: %v %v", tab, err)
	}
	if _, err := tableFor(Event{E: &protocol.Other{Base: protocol.Base{Kind: "nonesuch"}}}); err == nil {
		t.Error("an unknown kind was routed")
	}
}

func TestDataDictionary(t *testing.T) {
	md := DataDictionary()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 2+len(Tables()) {
		t.Fatalf("%d lines for %d tables:\n%s", len(lines), len(Tables()), md)
	}
	for i, tab := range Tables() {
		l := lines[2+i]
		if !strings.HasPrefix(l, "| `"+tab.Name+"` | "+tab.RowDoc+" | ") {
			t.Errorf("line for %s: %s", tab.Name, l)
		}
		for _, c := range tab.Columns {
			if !strings.Contains(l, "`"+c.Name+"`") {
				t.Errorf("%s: column %s missing", tab.Name, c.Name)
			}
		}
	}
	if !strings.Contains(md, "`price_source` (the command that supplied `price`") {
		t.Errorf("column docs missing:\n%s", md)
	}
	keys := UniqueKeys()
	for _, n := range []string{"danmaku", "gifts", "super_chats", "guards", "red_pockets", "interactions"} {
		if !strings.Contains(keys, "| `"+n+"` | `(room_id, ") {
			t.Errorf("unique keys lack %s:\n%s", n, keys)
		}
	}
}

// TestScanTable reads rows back as typed values, NULL as nil.
func TestScanTable(t *testing.T) {
	db := openInternal(t)
	if _, err := db.SQL.Exec(`INSERT INTO malformed (room_id, recv_ms, reason, body) VALUES (1, 2, 'x', X'0001'), (3, 4, 'y', NULL)`); err != nil {
		t.Fatal(err)
	}
	var got [][]any
	err := db.ScanTable(context.Background(), TableNamed("malformed"), func(row []any) error {
		got = append(got, append([]any(nil), row...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0][0] != int64(1) || got[0][2] != "x" || string(got[0][3].([]byte)) != "\x00\x01" || got[1][3] != nil {
		t.Errorf("rows %#v", got)
	}
	if TableNamed("nonesuch") != nil {
		t.Error("TableNamed found a table that does not exist")
	}
}

// TestRedPocketOnePerLot: re-broadcasts of a pocket (same lot_id) are one row.
func TestRedPocketOnePerLot(t *testing.T) {
	db := openInternal(t)
	tx, err := db.SQL.Begin()
	if err != nil {
		t.Fatal(err)
	}
	s := newStmts(tx)
	p := &protocol.RedPocket{Base: protocol.Base{Kind: kindRedPocket, Cmd: "POPULARITY_RED_POCKET_V2_START", RoomID: 7, TsMs: 1000},
		LotID: 42, UID: 9, Uname: "u", Price: 1600, StartTime: 1700000000, EndTime: 1700000180}
	for i := range 3 { // the start and two re-broadcasts
		if err := s.put(tRedPockets, 0, Event{E: p, RecvMs: int64(2000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	p2 := *p
	p2.LotID = 43
	if err := s.put(tRedPockets, 0, Event{E: &p2, RecvMs: 3000}); err != nil {
		t.Fatal(err)
	}
	s.close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n, recv, start int64
	db.SQL.QueryRow("SELECT count(*), min(recv_ms), min(start_ms) FROM red_pockets WHERE room_id = 7").Scan(&n, &recv, &start)
	if n != 2 || recv != 2000 || start != 1700000000000 || s.ins[tRedPockets.idx] != 2 {
		t.Errorf("red_pockets: %d rows, first recv %d, start %d, counted %d", n, recv, start, s.ins[tRedPockets.idx])
	}
}

// TestRowFunctions: each table a record is routed to turns it into one
// value per column (a lookup column its value), and gives no row for a
// record of another table; tables written otherwise have no row function.
func TestRowFunctions(t *testing.T) {
	b := func(k protocol.Kind, cmd string) protocol.Base {
		return protocol.Base{Kind: k, Cmd: cmd, RoomID: 7, TsMs: 1000}
	}
	records := []Record{
		RoomMeta{RoomID: 7}, Snapshot{RoomID: 7}, Conn{RoomID: 7, Seq: 1}, Raw{RoomID: 7, Cmd: "X"}, Malformed{RoomID: 7},
		Event{E: &protocol.Danmaku{Base: b(protocol.KindDanmaku, "DANMU_MSG"), IDStr: "id1"}},
		Event{E: &protocol.Gift{Base: b(protocol.KindGift, "SEND_GIFT"), TID: "t1"}},
		Event{E: &protocol.SuperChat{Base: b(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE"), ID: 1}},
		Event{E: &protocol.Guard{Base: b(protocol.KindGuard, "GUARD_BUY"), UID: 5}},
		Event{E: &protocol.RedPocket{Base: b(kindRedPocket, "POPULARITY_RED_POCKET_V2_START"), LotID: 1}},
		Event{E: &protocol.Interact{Base: b(protocol.KindInteract, "INTERACT_WORD_V2"), TriggerTimeNs: 5}},
		Event{E: &protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE"), Name: "watched"}},
		Event{E: &protocol.Room{Base: b(protocol.KindRoom, "LIVE")}},
		Event{E: &protocol.Combo{Base: b(protocol.KindCombo, "COMBO_SEND")}},
		Event{E: &protocol.Other{Base: b(protocol.KindOther, "SIM_X")}},
	}
	rowsOf := map[*Table]int{}
	for _, r := range records {
		want, err := tableFor(r)
		if err != nil || want == nil {
			t.Fatalf("%T: %v", r, err)
		}
		for _, tab := range Tables() {
			row := tab.Row(0, r)
			if tab != want {
				if row != nil {
					t.Errorf("%s gives a row for a %T routed to %s", tab.Name, r, want.Name)
				}
				continue
			}
			rowsOf[tab]++
			if len(row) != len(tab.Columns) {
				t.Errorf("%s: %d values for %d columns", tab.Name, len(row), len(tab.Columns))
				continue
			}
			for i, c := range tab.Columns {
				if c.code == nil {
					continue
				}
				if _, _, err := c.code.value(row[i]); err != nil {
					t.Errorf("%s.%s: %v", tab.Name, c.Name, err)
				}
			}
		}
	}
	for _, tab := range Tables() {
		if (tab.row != nil) != (rowsOf[tab] > 0) {
			t.Errorf("%s: row function %v, records routed to it in this test %d", tab.Name, tab.row != nil, rowsOf[tab])
		}
	}
	// A super chat delete updates super_chats and adds a room event.
	del := Event{E: &protocol.SuperChatDelete{Base: b(protocol.KindSuperChatDelete, "SUPER_CHAT_MESSAGE_DELETE"), IDs: []int64{1, 2}}}
	if tSuperChats.Row(0, del) != nil || fmt.Sprint(tRoomEvents.Row(0, del)) != "[7 1000 0 SUPER_CHAT_MESSAGE_DELETE    [1 2]]" {
		t.Errorf("super chat delete: %v, %v", tSuperChats.Row(0, del), tRoomEvents.Row(0, del))
	}
}

// TestRouteKeepsArrivalOrder: a batch sorted for the flush keeps arrival
// order within a room and table, also for a super chat delete, whose
// room event goes among the room events (it once went first, with the
// super chats, and two processes with other batch boundaries stored a
// room's events in different orders); its update follows the batch's
// super chats.
func TestRouteKeepsArrivalOrder(t *testing.T) {
	b := func(k protocol.Kind, cmd string) protocol.Base {
		return protocol.Base{Kind: k, Cmd: cmd, RoomID: 7}
	}
	room := func(recv int64) Record {
		return Event{E: &protocol.Room{Base: b(protocol.KindRoom, "WARNING")}, RecvMs: recv}
	}
	batch := []Record{
		room(1),
		Event{E: &protocol.SuperChatDelete{Base: b(protocol.KindSuperChatDelete, "SUPER_CHAT_MESSAGE_DELETE"), IDs: []int64{1}}, RecvMs: 2},
		room(3),
		Event{E: &protocol.SuperChat{Base: b(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE"), ID: 1}, RecvMs: 4},
	}
	sorted, err := route(batch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rt := range sorted {
		e := rt.r.(Event)
		got = append(got, fmt.Sprintf("%s@%d", e.E.Common().Cmd, e.RecvMs))
	}
	want := "[SUPER_CHAT_MESSAGE@4 WARNING@1 SUPER_CHAT_MESSAGE_DELETE@2 WARNING@3]"
	if fmt.Sprint(got) != want {
		t.Errorf("flush order %v, want %s", got, want)
	}
}
