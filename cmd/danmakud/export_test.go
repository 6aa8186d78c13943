package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/danmakud/danmakud/export"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
	"github.com/parquet-go/parquet-go"
)

// exportT0 is the fixture's first receive time: 2026-11-27 20:00:00 UTC+8.
var exportT0 = time.Date(2026, 11, 27, 20, 0, 0, 0, export.Zone).UnixMilli()

// nastyText has what XML 1.0 forbids (C0 and C1 controls, invalid
// UTF-8, U+FFFE, U+FEFF) between characters that need escaping.
const nastyText = "a\x01b\x7f\u0085<&>\"'\xff\xfe\ufffe\ufeffc\td"

// nastyClean is nastyText as XML character data carries it.
const nastyClean = "ab<&>\"'c\td"

// writeRecords stores recs through the writer, as collect does.
func writeRecords(t testing.TB, path string, recs []storage.Record) {
	t.Helper()
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: time.Hour})
	ch := make(chan storage.Record, 1024)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), ch) }()
	for _, r := range recs {
		ch <- r
	}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func base(k protocol.Kind, cmd string, room, ts int64) protocol.Base {
	return protocol.Base{Kind: k, Cmd: cmd, RoomID: room, TsMs: ts}
}

// exportFixture is two rooms over two hours: room 1001 goes live at
// +10 min and stops at +70 min, room 2002 has no LIVE. Danmaku carry
// nastyText every 7th message.
func exportFixture(t testing.TB, path string, perRoom int) {
	t.Helper()
	var recs []storage.Record
	add := func(e protocol.Event, recv int64) { recs = append(recs, storage.Event{E: e, RecvMs: recv}) }
	recs = append(recs, storage.RoomMeta{RoomID: 1001, ShortID: 11, AnchorName: "主播<A>", Title: "title & \"quotes\"",
		AreaName: "聊天", ParentAreaName: "娱乐", SeenMs: exportT0})
	add(&protocol.Room{Base: base(protocol.KindRoom, "LIVE", 1001, exportT0+10*60_000-500), Status: "live",
		Raw: json.RawMessage(`{"cmd":"LIVE","live_time":1}`)}, exportT0+10*60_000)
	add(&protocol.Room{Base: base(protocol.KindRoom, "LIVE", 1001, 0), Status: "live", Raw: json.RawMessage(`{"cmd":"LIVE"}`)},
		exportT0+10*60_000+1)
	add(&protocol.Room{Base: base(protocol.KindRoom, "PREPARING", 1001, 0), Status: "preparing",
		Raw: json.RawMessage(`{"cmd":"PREPARING"}`)}, exportT0+70*60_000)
	if storesRedPockets(t) {
		add(&protocol.RedPocket{Base: base(protocol.KindRedPocket, "POPULARITY_RED_POCKET_V2_START", 1001, exportT0+5000),
			LotID: 77, UID: 3, Uname: "rp", Price: 1600, StartTime: exportT0/1000 + 5, EndTime: exportT0/1000 + 185}, exportT0+5001)
	}
	for _, room := range []int64{1001, 2002} {
		for i := range perRoom {
			recv := exportT0 + int64(i)*(2*3600*1000)/int64(perRoom)
			text := "弹幕 " + strconv.Itoa(i)
			if i%7 == 3 {
				text = nastyText
			}
			uid := int64(0)
			if i%2 == 0 {
				uid = 5000 + int64(i)
			}
			add(&protocol.Danmaku{Base: base(protocol.KindDanmaku, "DANMU_MSG", room, recv-40),
				UID: uid, Uname: fmt.Sprintf("u\x02%d", i), Text: text, IDStr: fmt.Sprintf("id-%d-%d", room, i),
				Mode: 1, FontSize: 25, Color: 16777215 - int64(i), MidHash: "abcd", IsAdmin: i%5 == 0}, recv)
			if i%10 == 0 {
				add(&protocol.Gift{Base: base(protocol.KindGift, "SEND_GIFT", room, recv), UID: 7, Uname: "g\"iver",
					GiftID: 31036, GiftName: "小花花", Num: 3, Price: 100, TotalCoin: 300, CoinType: "gold",
					TID: fmt.Sprintf("tid-%d-%d", room, i)}, recv+1)
				add(&protocol.Counter{Base: base(protocol.KindCounter, "WATCHED_CHANGE", room, 0), Name: "watched", Value: int64(i)}, recv+2)
				add(&protocol.Interact{Base: base(protocol.KindInteract, "INTERACT_WORD", room, recv), UID: 8, Uname: "x",
					MsgType: 1, TriggerTimeNs: recv * 1e6}, recv+3)
			}
			if i%25 == 0 {
				add(&protocol.SuperChat{Base: base(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE", room, recv), ID: room*1000 + int64(i),
					UID: 9, Uname: "sc", Price: 30, Message: "line1\nline2 <b>", DurationS: 60}, recv+4)
				add(&protocol.Guard{Base: base(protocol.KindGuard, "GUARD_BUY", room, recv), UID: 10 + int64(i), Uname: "captain",
					GuardLevel: 3, Num: 1, Price: 198000, StartTime: recv / 1000}, recv+5)
				add(&protocol.Combo{Base: base(protocol.KindCombo, "COMBO_SEND", room, 0), UID: 7, Uname: "c", GiftID: 1,
					GiftName: "x", ComboNum: 5, BatchComboID: "b"}, recv+6)
			}
		}
	}
	writeRecords(t, path, recs)
}

// eventRows is stats' row count of every event table.
func eventRows(t *testing.T, path string) (map[string]int64, int64) {
	t.Helper()
	s := statsJSON(t, path)
	rows := map[string]int64{}
	var total int64
	for _, et := range storage.EventTables() {
		rows[et.Name] = s.Rows[et.Name]
		total += s.Rows[et.Name]
	}
	return rows, total
}

func TestExportJSONLMatchesStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	exportFixture(t, path, 200)
	rows, total := eventRows(t, path)
	if rows["danmaku"] != 400 || rows["room_events"] != 3 || rows["combos"] == 0 {
		t.Fatalf("fixture rows: %v", rows)
	}
	code, out, errs := runCLI(t, "", "export", "--db", path, "--format", "jsonl")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if int64(len(lines)) != total {
		t.Fatalf("jsonl has %d lines, stats counts %d event rows", len(lines), total)
	}
	kinds := map[string]int64{}
	sawNasty := false
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		for _, k := range []string{"kind", "cmd", "room_id", "ts_ms", "recv_ms"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %d has no %q: %s", i+1, k, l)
			}
		}
		kinds[m["kind"].(string)]++
		switch m["kind"] {
		case "danmaku":
			// The canonical form reads back into protocol's type.
			var d protocol.Danmaku
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(d.IDStr, fmt.Sprintf("id-%d-", d.RoomID)))
			if d.Cmd != "DANMU_MSG" || d.MidHash != "abcd" || d.IsAdmin != (n%5 == 0) || d.Color != 16777215-int64(n) {
				t.Fatalf("danmaku %d read back wrong: %+v", n, d)
			}
			if n%7 == 3 {
				sawNasty = true
				// each invalid byte becomes U+FFFD, as with encoding/json
				if want := strings.Replace(nastyText, "\xff\xfe", "\ufffd\ufffd", 1); d.Text != want {
					t.Fatalf("text %q", d.Text)
				}
			}
		case "super_chat":
			if _, ok := m["id"]; !ok {
				t.Fatalf("super_chat without canonical id: %s", l)
			}
		case "counter":
			if m["cmd"] != "WATCHED_CHANGE" {
				t.Fatalf("counter cmd: %s", l)
			}
		case "room":
			if raw, ok := m["raw"].(map[string]any); !ok || raw["cmd"] == nil {
				t.Fatalf("room raw not embedded: %s", l)
			}
		}
	}
	if !sawNasty {
		t.Fatal("no control-character danmaku seen")
	}
	for _, et := range storage.EventTables() {
		if kinds[string(et.Kind)] != rows[et.Name] {
			t.Errorf("kind %s: %d lines, %d rows", et.Kind, kinds[string(et.Kind)], rows[et.Name])
		}
	}
}

func TestExportFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	exportFixture(t, path, 120)
	count := func(args ...string) int {
		t.Helper()
		code, out, errs := runCLI(t, "", append([]string{"export", "--db", path, "--format", "jsonl"}, args...)...)
		if code != 0 {
			t.Fatalf("export %v: exit %d: %s", args, code, errs)
		}
		return strings.Count(out, "\n")
	}
	// 120 danmaku per room spread evenly over 2 h: one per minute.
	if n := count("--kind", "danmaku", "--room", "2002"); n != 120 {
		t.Fatalf("room 2002 danmaku: %d", n)
	}
	// The first hour in three spellings of the same instants.
	for _, r := range [][2]string{
		{"2026-11-27 20:00:00", "2026-11-27 21:00:00"},
		{"2026-11-27T12:00:00Z", "2026-11-27T21:00:00+08:00"},
		{strconv.FormatInt(exportT0, 10), strconv.FormatInt(exportT0+3600_000, 10)},
	} {
		if n := count("--kind", "danmaku", "--room", "1001", "--since", r[0], "--until", r[1]); n != 60 {
			t.Fatalf("first hour %v: %d danmaku, want 60", r, n)
		}
	}
	if n := count("--kind", "super_chats", "--kind", "guard"); n != 2*(120/25+1)*2 {
		t.Fatalf("sc+guard: %d", n)
	}
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "jsonl", "--kind", "nope")
	if code != exitUsage || !strings.Contains(errs, "unknown --kind") {
		t.Fatalf("bad kind: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI(t, "", "export", "--db", path, "--format", "jsonl", "--since", "yesterday")
	if code != exitUsage || !strings.Contains(errs, "--since") {
		t.Fatalf("bad time: exit %d: %s", code, errs)
	}
}

func TestExportCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	exportFixture(t, path, 100)
	rows, _ := eventRows(t, path)
	out := filepath.Join(dir, "csv")
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "csv", "-o", out)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	for _, et := range storage.EventTables() {
		f, err := os.Open(filepath.Join(out, et.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s.csv: %v", et.Name, err)
		}
		if strings.Join(recs[0], ",") != strings.Join(et.ColumnNames(), ",") {
			t.Fatalf("%s.csv header %v", et.Name, recs[0])
		}
		for _, r := range recs {
			for _, v := range r {
				if !utf8.ValidString(v) {
					t.Fatalf("%s.csv: invalid UTF-8 in %q", et.Name, v)
				}
			}
		}
		if int64(len(recs)-1) != rows[et.Name] {
			t.Fatalf("%s.csv: %d records, %d rows", et.Name, len(recs)-1, rows[et.Name])
		}
		if et.Name == "super_chats" {
			// deleted_ms is NULL: an empty field; the message keeps its newline.
			last := recs[1]
			if last[len(last)-1] != "" || last[7] != "line1\nline2 <b>" {
				t.Fatalf("super_chats record %q", last)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*.tmp")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// netRoundTrip is .NET's round-trip time format, which the recorder's
// start_time uses.
const netRoundTrip = "2006-01-02T15:04:05.0000000-07:00"

// recorderP is the p attribute of a recorder <d>: time (s, 3 decimals),
// mode, size, colour, send time (unix ms), 0, uid, 0.
var recorderP = regexp.MustCompile(`^\d+\.\d{3},[1-9]\d*,\d+,\d+,\d{13},0,\d+,0$`)

type xmlFile struct {
	XMLName xml.Name `xml:"i"`
	Chat    string   `xml:"chatserver"`
	Rec     struct {
		Version string `xml:"version,attr"`
	} `xml:"BililiveRecorder"`
	Info struct {
		RoomID    int64  `xml:"roomid,attr"`
		ShortID   int64  `xml:"shortid,attr"`
		Name      string `xml:"name,attr"`
		Title     string `xml:"title,attr"`
		StartTime string `xml:"start_time,attr"`
	} `xml:"BililiveRecorderRecordInfo"`
	D []struct {
		P    string `xml:"p,attr"`
		User string `xml:"user,attr"`
		Text string `xml:",chardata"`
	} `xml:"d"`
	Gift []struct {
		Ts    string `xml:"ts,attr"`
		Name  string `xml:"giftname,attr"`
		Count int64  `xml:"giftcount,attr"`
		Raw   string `xml:"raw,attr"`
	} `xml:"gift"`
	SC []struct {
		Ts    string `xml:"ts,attr"`
		Price int64  `xml:"price,attr"`
		Time  int64  `xml:"time,attr"`
		Text  string `xml:",chardata"`
	} `xml:"sc"`
	Guard []struct {
		Level int64 `xml:"level,attr"`
		Count int64 `xml:"count,attr"`
	} `xml:"guard"`
}

func TestExportXML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	exportFixture(t, path, 120)
	rows, _ := eventRows(t, path)
	out := filepath.Join(dir, "xml")
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "xml", "-o", out)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.xml"))
	// 1001: before LIVE, the live session, after PREPARING; 2002: one.
	want := []string{"1001-20261127-200000.xml", "1001-20261127-200959.xml", "1001-20261127-211000.xml", "2002-20261127-200000.xml"}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", names, want)
	}
	d := map[int64]int64{}
	var gifts, scs, guards int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte("<BililiveRecorder")); i < 0 || i > 1024 {
			t.Fatalf("%s: <BililiveRecorder at %d", f, i)
		}
		if !bytes.HasSuffix(b, []byte("</i>\n")) {
			t.Fatalf("%s: not finished with </i>", f)
		}
		var x xmlFile
		if err := xml.Unmarshal(b, &x); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		st, err := time.Parse(netRoundTrip, x.Info.StartTime)
		if err != nil || !strings.HasSuffix(x.Info.StartTime, "+08:00") {
			t.Fatalf("%s: start_time %q: %v", f, x.Info.StartTime, err)
		}
		if x.Chat != "chat.bilibili.com" || !strings.HasPrefix(x.Rec.Version, "danmakud") {
			t.Fatalf("%s: header %+v", f, x)
		}
		if x.Info.RoomID == 1001 && (x.Info.ShortID != 11 || x.Info.Name != "主播<A>" || x.Info.Title != `title & "quotes"`) {
			t.Fatalf("%s: record info %+v", f, x.Info)
		}
		d[x.Info.RoomID] += int64(len(x.D))
		for _, e := range x.D {
			if !recorderP.MatchString(e.P) {
				t.Fatalf("%s: p=%q is not the recorder's format", f, e.P)
			}
			p := strings.Split(e.P, ",")
			sec, _ := strconv.ParseFloat(p[0], 64)
			send, _ := strconv.ParseInt(p[4], 10, 64)
			// send time (server) is 40 ms before receipt; ts is by receipt.
			if got := st.UnixMilli() + int64(sec*1000) - 40; got-send > 1 || send-got > 1 {
				t.Fatalf("%s: p=%q: ts does not match the send time (start %s)", f, e.P, x.Info.StartTime)
			}
			if strings.ContainsRune(e.User, '\x02') {
				t.Fatalf("control character kept in user %q", e.User)
			}
			if strings.HasPrefix(e.Text, "a") && e.Text != nastyClean {
				t.Fatalf("text %q, want %q", e.Text, nastyClean)
			}
		}
		for _, g := range x.Gift {
			var raw map[string]any
			if err := json.Unmarshal([]byte(g.Raw), &raw); err != nil || raw["price"] != 100.0 || raw["coin_type"] != "gold" || g.Count != 3 || g.Name != "小花花" {
				t.Fatalf("gift %+v: %v", g, err)
			}
		}
		for _, s := range x.SC {
			if s.Price != 30 || s.Time != 60 || s.Text != "line1\nline2 <b>" {
				t.Fatalf("sc %+v", s)
			}
		}
		gifts, scs, guards = gifts+int64(len(x.Gift)), scs+int64(len(x.SC)), guards+int64(len(x.Guard))
	}
	if d[1001] != 120 || d[2002] != 120 {
		t.Fatalf("<d> per room %v, want 120 each (danmaku rows %d)", d, rows["danmaku"])
	}
	if gifts != rows["gifts"] || scs != rows["super_chats"] || guards != rows["guards"] {
		t.Fatalf("gift/sc/guard elements %d/%d/%d, rows %v", gifts, scs, guards, rows)
	}
	// One room, one time range: the <d> count equals that range's rows.
	out2 := filepath.Join(dir, "xml2")
	code, _, errs = runCLI(t, "", "export", "--db", path, "--format", "xml", "--room", "2002", "--kind", "danmaku",
		"--since", "2026-11-27 20:30:00", "--until", "2026-11-27 21:00:00", "-o", out2)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	files, _ = filepath.Glob(filepath.Join(out2, "*.xml"))
	if len(files) != 1 || filepath.Base(files[0]) != "2002-20261127-203000.xml" {
		t.Fatalf("files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	var x xmlFile
	if err := xml.Unmarshal(b, &x); err != nil || len(x.D) != 30 || len(x.Gift) != 0 || !strings.HasPrefix(x.D[0].P, "0.000,") {
		t.Fatalf("ranged export: %d d, %d gifts, err %v", len(x.D), len(x.Gift), err)
	}
}

func TestExportParquet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	exportFixture(t, path, 150)
	rows, _ := eventRows(t, path)
	out := filepath.Join(dir, "pq")
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "parquet", "-o", out)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	for _, et := range storage.EventTables() {
		f, err := os.Open(filepath.Join(out, et.Name+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", et.Name, err)
		}
		if pf.NumRows() != rows[et.Name] {
			t.Errorf("%s.parquet: %d rows, want %d", et.Name, pf.NumRows(), rows[et.Name])
		}
		// Columns in registry order, typed, nullable where the registry says.
		fields := pf.Schema().Fields()
		for i, c := range et.Columns {
			fl := fields[i]
			if fl.Name() != c.Name || fl.Optional() != c.Null {
				t.Fatalf("%s column %d: %s optional=%v, want %+v", et.Name, i, fl.Name(), fl.Optional(), c)
			}
			kind := fl.Type().Kind()
			if (c.Type == "INTEGER" && kind != parquet.Int64) || (c.Type == "TEXT" && kind != parquet.ByteArray) {
				t.Fatalf("%s.%s: parquet type %v", et.Name, c.Name, fl.Type())
			}
		}
		if et.Name == "danmaku" {
			r := parquet.NewReader(f)
			buf := make([]parquet.Row, 10)
			n, err := r.ReadRows(buf)
			if n != 10 || (err != nil && err != io.EOF) {
				t.Fatalf("read rows: %d, %v", n, err)
			}
			first := buf[0]
			idx := func(name string) int {
				for i, c := range et.Columns {
					if c.Name == name {
						return i
					}
				}
				t.Fatalf("no column %s", name)
				return -1
			}
			if first[idx("room_id")].Int64() != 1001 || first[idx("id_str")].String() != "id-1001-0" ||
				first[idx("recv_ms")].Int64() != exportT0 || first[idx("uid")].Int64() != 5000 || first[idx("text")].String() != "弹幕 0" {
				t.Fatalf("first danmaku row %v", first)
			}
			if got, want := buf[3][idx("text")].String(), strings.Replace(nastyText, "\xff\xfe", "\ufffd\ufffd", 1); got != want {
				t.Fatalf("text %q, want %q (valid UTF-8)", got, want)
			}
			r.Close()
		}
		if et.Name == "super_chats" {
			r := parquet.NewReader(f)
			buf := make([]parquet.Row, 1)
			if n, _ := r.ReadRows(buf); n != 1 || !buf[0][len(et.Columns)-1].IsNull() {
				t.Fatalf("deleted_ms not NULL: %v", buf[0])
			}
			r.Close()
		}
		f.Close()
	}
}

func TestExportXMLRejectsOtherKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	exportFixture(t, path, 10)
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "xml", "--kind", "counter", "-o", t.TempDir())
	if code != exitUsage || !strings.Contains(errs, "xml") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestExportProgressEveryN(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	exportFixture(t, path, 100)
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "csv", "--kind", "danmaku", "-o", dir, "--progress-every", "50")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "export: 50 rows (danmaku)") || !strings.HasPrefix(lines[4], "export: 200 rows in ") {
		t.Fatalf("progress lines: %q", lines)
	}
	code, _, errs = runCLI(t, "", "export", "--db", path, "--format", "csv", "-o", dir, "--progress-every", "50", "--quiet")
	if code != 0 || errs != "" {
		t.Fatalf("--quiet: exit %d: %q", code, errs)
	}
}

func TestExportRefusesOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec("PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs := runCLI(t, "", "export", "--db", path, "--format", "jsonl")
	if code != exitFailure || !strings.Contains(errs, "older than this build") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// BenchmarkExport measures each format's speed on a file of 227,203
// event rows (160,000 danmaku in 2 rooms), built once with the writer:
//
//	go test -run '^$' -bench Export -benchtime 3x ./cmd/danmakud/
//
// It calls export.Options.Run, what the command runs.
func BenchmarkExport(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "bench.db")
	exportFixture(b, path, 80_000)
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	var rows, xmlRows int64 // xml writes danmaku, gifts, super chats, guards
	for _, et := range storage.EventTables() {
		n, err := db.CountEvents(context.Background(), et.Table, storage.ExportFilter{})
		if err != nil {
			b.Fatal(err)
		}
		rows += n
		switch et.Name {
		case "danmaku", "gifts", "super_chats", "guards":
			xmlRows += n
		}
	}
	db.Close()
	for _, f := range export.Formats {
		b.Run(f.Name(), func(b *testing.B) {
			rows := rows
			if f == export.XML {
				rows = xmlRows
			}
			out := filepath.Join(dir, f.Name())
			if !f.ToDir() {
				out += "." + f.Name()
			}
			for b.Loop() {
				if _, err := (export.Options{DBs: []string{path}, Format: f, Out: out, Stdout: io.Discard}).Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
