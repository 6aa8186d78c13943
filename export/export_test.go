package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// t0 is the fixture's first receive time: 2026-11-27 20:00:00 UTC+8.
var t0 = time.Date(2026, 11, 27, 20, 0, 0, 0, Zone).UnixMilli()

// fixture writes n danmaku and n/2 gifts in room 1001, one a second, and
// returns the database's path.
func fixture(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := storage.NewWriter(db, storage.WriterOptions{FlushInterval: time.Hour})
	ch := make(chan storage.Record, 2*n)
	for i := range n {
		recv := t0 + int64(i)*1000
		b := protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 1001, TsMs: recv}
		ch <- storage.Event{E: &protocol.Danmaku{Base: b, Text: fmt.Sprint("d", i), IDStr: fmt.Sprint("id", i)}, RecvMs: recv}
		if i%2 == 0 {
			b.Kind, b.Cmd = protocol.KindGift, "SEND_GIFT"
			ch <- storage.Event{E: &protocol.Gift{Base: b, GiftName: "x", Num: 1, TID: fmt.Sprint("t", i)}, RecvMs: recv}
		}
	}
	close(ch)
	if err := w.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	return path
}

func tablesNamed(names ...string) []*storage.EventTable {
	var out []*storage.EventTable
	for _, n := range names {
		out = append(out, storage.EventTableFor(n))
	}
	return out
}

// TestRunPerTable: a Go caller's CSV export into a directory: the files
// Result names, the rows it counts, Progress per row and table, tables
// written in export order whatever the order asked.
func TestRunPerTable(t *testing.T) {
	path := fixture(t, 10)
	dir := filepath.Join(t.TempDir(), "out")
	var seen []string
	var last int64
	res, err := Options{DBs: []string{path}, Format: CSV, Out: dir, Tables: tablesNamed("gifts", "danmaku"),
		Progress: func(what string, rows int64) {
			if rows != last+1 {
				t.Errorf("progress %d after %d", rows, last)
			}
			last = rows
			if len(seen) == 0 || seen[len(seen)-1] != what {
				seen = append(seen, what)
			}
		}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "danmaku.csv"), filepath.Join(dir, "gifts.csv")}
	if res.Rows != 15 || strings.Join(res.Files, " ") != strings.Join(want, " ") || strings.Join(seen, " ") != "danmaku gifts" {
		t.Fatalf("result %+v, progress tables %v", res, seen)
	}
	b, _ := os.ReadFile(want[0])
	if lines := strings.Count(string(b), "\n"); lines != 11 || !strings.HasPrefix(string(b), "room_id,dedup_key,") {
		t.Fatalf("danmaku.csv: %d lines:\n%s", lines, b)
	}
}

// TestRunJSONLToWriter: a one-file format with no Out writes to Stdout
// and completes no file.
func TestRunJSONLToWriter(t *testing.T) {
	path := fixture(t, 4)
	var buf bytes.Buffer
	res, err := Options{DBs: []string{path}, Format: JSONL, Stdout: &buf,
		Filter: storage.ExportFilter{SinceMs: t0 + 1000, UntilMs: t0 + 3000}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if res.Rows != 3 || len(lines) != 3 || len(res.Files) != 0 || !strings.HasPrefix(lines[0], `{"kind":"danmaku","cmd":"DANMU_MSG","room_id":1001,`) {
		t.Fatalf("result %+v:\n%s", res, buf.String())
	}
}

// TestRunCancelled: a cancelled export keeps the finished files, removes
// the unfinished one and says it was interrupted.
func TestRunCancelled(t *testing.T) {
	path := fixture(t, 10)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Options{DBs: []string{path}, Format: Parquet, Out: dir, Tables: tablesNamed("danmaku", "gifts"),
		Progress: func(what string, rows int64) {
			if what == "gifts" {
				cancel()
			}
		}}.Run(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "danmaku.parquet" || len(res.Files) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, result %+v", names, res)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "no Format"},
		{Options{Format: CSV, Filter: storage.ExportFilter{Rooms: []int64{5, 0}}}, "bad room id 0: room ids are positive integers"},
		{Options{Format: CSV, Filter: storage.ExportFilter{SinceMs: 10, UntilMs: 10}}, "ends (UntilMs 10) before it starts"},
		{Options{Format: XML, Tables: tablesNamed("counters", "combos")}, "xml holds only the kinds danmaku, gift, super_chat and guard"},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	var ke *KindsError
	if o := (Options{Format: XML, Tables: tablesNamed("counters")}); !errors.As(o.Validate(), &ke) || ke.Format != "xml" {
		t.Errorf("XML without its kinds: %v", o.Validate())
	}
	if o := (Options{Format: XML, Tables: tablesNamed("counters", "guards")}); o.Validate() != nil {
		t.Errorf("XML with guards: %v", o.Validate())
	}
	if _, err := (Options{DBs: []string{filepath.Join(t.TempDir(), "none.db")}, Format: CSV}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "none.db") {
		t.Errorf("missing database: %v", err)
	}
}

func TestFormats(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Formats {
		if seen[f.Name()] || FormatNamed(f.Name()) != f || f.Doc() == "" {
			t.Errorf("format %q: listed twice, not found by name, or no doc", f.Name())
		}
		seen[f.Name()] = true
	}
	if FormatNamed("yaml") != nil || JSONL.ToDir() || !XML.ToDir() {
		t.Error("FormatNamed or ToDir")
	}
	// The doc states the row group bound.
	if n := parquetRowGroup; !strings.Contains(Parquet.Doc(), fmt.Sprintf("%d,%03d rows", n/1000, n%1000)) {
		t.Errorf("parquet doc does not say %d rows: %s", n, Parquet.Doc())
	}
	if !strings.Contains(JSONL.Doc(), "danmaku, gift, super_chat, guard, interact, counter, room, combo, red_pocket") {
		t.Errorf("jsonl doc lacks the table order: %s", JSONL.Doc())
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"2026-11-27 20:00:00":       t0,
		"2026-11-27":                t0 - 20*3600_000,
		"2026-11-27T20:00:00+08:00": t0,
		"2026-11-27T12:00:00.5Z":    t0 + 500,
		"1764244800000":             1764244800000,
		"  ":                        0,
	} {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"27/11/2026", "-5", "0"} {
		if _, err := ParseTime(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestAppendXMLText(t *testing.T) {
	for _, c := range []struct {
		in         string
		attr, text string
	}{
		{"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e'f", "a&amp;b&lt;c&gt;d\"e'f"},
		{"x\ty\nz\r", "x&#x9;y&#xA;z&#xD;", "x\ty\nz&#xD;"},
		{"\x00\x08\x0b\x0c\x1f\x7f\u0080\u009f\ufeff\ufffe\uffff", "", ""},
		{"ok\xed\xa0\x80\xff\ufffd", "ok\ufffd", "ok\ufffd"}, // a lone surrogate and a bad byte go; a real U+FFFD stays
		{"弹幕🎉", "弹幕🎉", "弹幕🎉"},
	} {
		if got := string(appendXMLText(nil, c.in, true)); got != c.attr {
			t.Errorf("attr %q: %q, want %q", c.in, got, c.attr)
		}
		if got := string(appendXMLText(nil, c.in, false)); got != c.text {
			t.Errorf("text %q: %q, want %q", c.in, got, c.text)
		}
	}
}
