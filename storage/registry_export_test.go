package storage

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// TestCheckExport: the init-time rule that every table storing events
// declares its export mapping catches a table that does not, and the
// other mistakes a declaration can make.
func TestCheckExport(t *testing.T) {
	cols := []Column{colI("room_id", ""), colT("cmd", ""), colI("n", "")}
	for _, c := range []struct {
		t    Table
		want string // "" = accepted
	}{
		{Table{Name: "plain", Columns: cols}, ""},
		{Table{Name: "ev", Columns: cols, Kinds: []protocol.Kind{"x"}, export: &exportSpec{seq: 1}}, ""},
		{Table{Name: "tally", Columns: cols, Kinds: []protocol.Kind{"x"}, export: &exportSpec{skip: "a tally"}}, ""},
		{Table{Name: "nomap", Columns: cols, Kinds: []protocol.Kind{"x"}}, "declares no export mapping"},
		{Table{Name: "nokinds", Columns: cols, export: &exportSpec{seq: 1}}, "stores no events"},
		{Table{Name: "both", Columns: cols, Kinds: []protocol.Kind{"x"}, export: &exportSpec{seq: 1, skip: "x"}}, "either a seq"},
		{Table{Name: "neither", Columns: cols, Kinds: []protocol.Kind{"x"}, export: &exportSpec{}}, "either a seq"},
		{Table{Name: "ghost", Columns: cols, Kinds: []protocol.Kind{"x"}, export: &exportSpec{seq: 1, how: map[string]fieldHow{"gone": asBool}}}, `column "gone"`},
		{Table{Name: "noroom", Columns: cols[1:], Kinds: []protocol.Kind{"x"}, export: &exportSpec{seq: 1}}, "no room_id"},
		{Table{Name: "nocmd", Columns: []Column{cols[0], cols[2]}, Kinds: []protocol.Kind{"x"}, export: &exportSpec{seq: 1}}, "no cmd column"},
	} {
		err := checkExport(&c.t)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.t.Name, err, c.want)
		}
	}
	for _, tab := range registry {
		if err := checkExport(tab); err != nil {
			t.Error(err)
		}
	}
}

// TestExportOrder: seq numbers give the export order and must run 1, 2,
// … without gaps or repeats.
func TestExportOrder(t *testing.T) {
	cols := []Column{colI("room_id", ""), colT("cmd", "")}
	mk := func(name string, seq int) *Table {
		return &Table{Name: name, Columns: cols, Kinds: []protocol.Kind{protocol.Kind(name)}, export: &exportSpec{seq: seq}}
	}
	ets, err := buildEventTables([]*Table{mk("b", 2), mk("a", 1), {Name: "other", Columns: cols}})
	if err != nil || len(ets) != 2 || ets[0].Name != "a" || ets[1].Name != "b" {
		t.Fatalf("%v, %v", ets, err)
	}
	for _, ts := range [][]*Table{{mk("a", 1), mk("b", 1)}, {mk("a", 1), mk("b", 3)}, {mk("a", 1), {Name: "x", Columns: cols, Kinds: []protocol.Kind{"x"}}}} {
		if _, err := buildEventTables(ts); err == nil {
			t.Errorf("%v accepted", ts)
		}
	}
	var names []string
	for _, et := range EventTables() {
		names = append(names, et.Name)
	}
	if got := strings.Join(names, " "); got != "danmaku gifts super_chats guards interactions counters room_events combos red_pockets" {
		t.Errorf("export order %s", got)
	}
}

// TestCheckKey: Dedup goes with key columns, and a key that may be NULL
// with a nullKey rule.
func TestCheckKey(t *testing.T) {
	cols := []Column{colI("room_id", ""), colNT("k", ""), colT("j", "")}
	nk := func(protocol.Event) bool { return false }
	for _, c := range []struct {
		t    Table
		want string
	}{
		{Table{Name: "ok", Columns: cols, Dedup: true, KeyCols: []string{"room_id", "j"}}, ""},
		{Table{Name: "okNull", Columns: cols, Dedup: true, KeyCols: []string{"room_id", "k"}, nullKey: nk}, ""},
		{Table{Name: "noKey", Columns: cols, Dedup: true}, "0 key columns"},
		{Table{Name: "noDedup", Columns: cols, KeyCols: []string{"room_id"}}, "Dedup is false"},
		{Table{Name: "ghost", Columns: cols, Dedup: true, KeyCols: []string{"x"}}, `"x" is not one of its columns`},
		{Table{Name: "nullable", Columns: cols, Dedup: true, KeyCols: []string{"room_id", "k"}}, "needs nullKey"},
		{Table{Name: "stray", Columns: cols, Dedup: true, KeyCols: []string{"room_id", "j"}, nullKey: nk}, "needs nullKey"},
	} {
		err := checkKey(&c.t)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.t.Name, err, c.want)
		}
	}
}

// TestKeyColsMatchSchema: each table's KeyCols are the columns of its
// unique index (a UNIQUE constraint or index) in the schema, a lookup
// table's is its text, and another table has none.
func TestKeyColsMatchSchema(t *testing.T) {
	db := openInternal(t)
	keyOf := map[string]string{} // a lookup's table: its values are its key
	for _, l := range lookups {
		var names []string
		for _, c := range l.Cols {
			names = append(names, c.Name)
		}
		keyOf[l.Table] = strings.Join(names, ",")
	}
	for _, tab := range Tables() {
		rows, err := db.SQL.Query(`SELECT il.name FROM pragma_index_list(?) AS il WHERE il."unique" AND il.origin IN ('u', 'c')`, tab.Stored())
		if err != nil {
			t.Fatal(err)
		}
		var idx []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			idx = append(idx, n)
		}
		rows.Close()
		var got []string
		for _, ix := range idx {
			var cols string
			if err := db.SQL.QueryRow(`SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(?) ORDER BY seqno)`, ix).Scan(&cols); err != nil {
				t.Fatal(err)
			}
			got = append(got, cols)
		}
		want := []string(nil)
		if len(tab.KeyCols) > 0 {
			want = []string{strings.Join(tab.KeyCols, ",")}
		}
		if key, ok := keyOf[tab.Name]; ok {
			want = []string{key}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: schema's unique keys %v, registry %v", tab.Name, got, want)
		}
	}
}

// TestCounterCmds: the command each counter comes from, as declared
// beside the counters table, is the one protocol decodes it from, and
// every declared counter is seen in the samples (popularity in a
// heartbeat reply).
func TestCounterCmds(t *testing.T) {
	cmds := counterCmds()
	seen := map[string]bool{}
	check := func(e protocol.Event) {
		if c, ok := e.(*protocol.Counter); ok {
			seen[c.Name] = true
			if cmds[c.Name] != c.Cmd {
				t.Errorf("counter %s comes from %s; counters declares %q", c.Name, c.Cmd, cmds[c.Name])
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "samples", "*.json"))
	var dec protocol.CommandDecoder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := dec.Decode(nil, b, 1)
		for _, e := range evs {
			check(e)
		}
	}
	var fd protocol.FrameDecoder
	p := &protocol.Packet{Body: []byte{0, 0, 0, 1}}
	p.Op = protocol.OpHeartbeatReply
	evs, err := fd.PacketEvents(nil, p, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("heartbeat reply: %v, %v", evs, err)
	}
	check(evs[0])
	for name := range cmds {
		if !seen[name] {
			t.Errorf("counter %s is declared but no sample decodes to it", name)
		}
	}
	if len(files) < 20 {
		t.Fatalf("%d samples", len(files))
	}
}

// TestUnkeyedRowsDerived: reparse's tables without duplicate protection,
// derived from the registry, are the time series, the tally of unknown
// commands, the room event a super chat delete adds, and interactions
// whose key is NULL.
func TestUnkeyedRowsDerived(t *testing.T) {
	got := map[protocol.Kind]string{}
	for k, ts := range unkeyedRows {
		var n []string
		for _, tab := range ts {
			n = append(n, tab.Name)
		}
		sort.Strings(n)
		got[k] = strings.Join(n, ",")
	}
	want := map[protocol.Kind]string{
		protocol.KindCounter: "counters", protocol.KindRoom: "room_events", protocol.KindCombo: "combos",
		protocol.KindSuperChatDelete: "room_events", protocol.KindInteract: "interactions", protocol.KindOther: "unknown_commands",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unkeyed rows %v, want %v", got, want)
	}
	if c := nullKeyCond(tInteractions); c != "trigger_ns IS NULL" {
		t.Errorf("interactions: %q", c)
	}
}

// TestReparseNeedsWriteHandle: a read-only handle is refused, naming the
// file.
func TestReparseNeedsWriteHandle(t *testing.T) {
	path := openInternal(t).path
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Reparse(context.Background(), ReparseOptions{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("%v", err)
	}
}
