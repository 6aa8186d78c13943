package storage

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// canonicalTypes are protocol's event types by kind.
var canonicalTypes = map[protocol.Kind]any{
	protocol.KindDanmaku: protocol.Danmaku{}, protocol.KindGift: protocol.Gift{}, protocol.KindSuperChat: protocol.SuperChat{},
	protocol.KindGuard: protocol.Guard{}, protocol.KindInteract: protocol.Interact{}, protocol.KindCounter: protocol.Counter{},
	protocol.KindRoom: protocol.Room{}, protocol.KindCombo: protocol.Combo{}, protocol.KindRedPocket: protocol.RedPocket{},
}

// exportExtras are the columns that have no canonical field and keep
// their column names in the JSON (besides recv_ms, which every row has).
var exportExtras = map[string][]string{
	"danmaku":      {"dedup_key"},
	"gifts":        {"dedup_key"},
	"red_pockets":  {"start_ms", "end_ms"}, // ms; the canonical start_time/end_time are unix s
	"super_chats":  {"deleted_ms"},
	"guards":       {"purchase_key", "list_price", "price_source"},
	"interactions": {"dedup_key"},
}

func jsonTags(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			jsonTags(f.Type, into)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		into[name] = true
	}
}

// TestExportJSONKeysAreCanonical holds the export mapping to protocol's
// JSON names: a column that is renamed in protocol, or a new column
// with no canonical field, fails here until the table's exportSpec or exportExtras
// says what it is.
func TestExportJSONKeysAreCanonical(t *testing.T) {
	for _, et := range EventTables() {
		typ, ok := canonicalTypes[et.Kind]
		if !ok {
			t.Errorf("%s: no canonical type for kind %s", et.Name, et.Kind)
			continue
		}
		tags := map[string]bool{"recv_ms": true}
		jsonTags(reflect.TypeOf(typ), tags)
		for _, x := range exportExtras[et.Name] {
			tags[x] = true
		}
		for _, k := range et.JSONKeys() {
			if !tags[k] {
				t.Errorf("%s: JSON key %q is neither a %T field nor a listed extra", et.Name, k, typ)
			}
		}
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "弹幕🎉", "q\"b\\s/", "\x00\x01\x1f\x7f\t\n\r", "bad\xff\xfe end", "\xed\xa0\x80",
		"\u2028\u2029", "<&>", "\ufffd\ufeff"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(appendJSONString(nil, s)); got != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("%q: %s, encoding/json %s", s, got, want.String())
		}
	}
}

func TestEventTableRowJSON(t *testing.T) {
	et := EventTableFor("super_chat")
	if et == nil || et.Name != "super_chats" || EventTableFor("super_chats") != et || EventTableFor("malformed") != nil {
		t.Fatalf("EventTableFor: %v", et)
	}
	row := make([]any, len(et.Columns))
	for i, c := range et.Columns {
		switch c.Name {
		case "deleted_ms":
			row[i] = nil
		case "room_id":
			row[i] = int64(7)
		case "sc_id":
			row[i] = int64(99)
		default:
			if c.Type == "INTEGER" {
				row[i] = int64(i)
			} else {
				row[i] = c.Name
			}
		}
	}
	var sc struct {
		protocol.SuperChat
		RecvMs    int64  `json:"recv_ms"`
		DeletedMs *int64 `json:"deleted_ms"`
	}
	b := et.AppendJSON(nil, row)
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if sc.Kind != protocol.KindSuperChat || sc.Cmd != "cmd" || sc.RoomID != 7 || sc.ID != 99 || sc.Message != "message" || sc.DeletedMs != nil {
		t.Fatalf("read back %+v from %s", sc, b)
	}
}
