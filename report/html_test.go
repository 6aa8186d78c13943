package report

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// t0 is the fixtures' start: 2026-11-27 12:00 UTC (20:00 UTC+8).
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixMilli()

const hostileTitle = `<script>alert("x")</script>&`

// fixture writes a database of rooms rooms over hours hours with about
// events events, through the writer as collect stores them: one run,
// every room connected throughout but for a gap of 10 minutes in the
// middle of the run (every room), history checks, a title with markup.
func fixture(t testing.TB, path string, rooms, hours, events int) {
	t.Helper()
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.StartRun(context.Background(), storage.RunInfo{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w := storage.NewWriter(db, storage.WriterOptions{RunID: run, FlushInterval: time.Hour, BatchMax: 50_000})
	ch := make(chan storage.Record, 4096)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), ch) }()
	span := int64(hours) * 3600_000
	gapFrom, gapTo := t0+span/2, t0+span/2+10*60_000
	for r := range rooms {
		room := int64(1000 + r)
		title := fmt.Sprintf("直播间 %d", r)
		if r == 1 {
			title = hostileTitle
		}
		ch <- storage.RoomMeta{RoomID: room, AnchorName: "主播", Title: title, AreaName: "唱见", ParentAreaName: "娱乐", SeenMs: t0}
		ch <- storage.Conn{Seq: int64(2*r + 1), RoomID: room, StartedMs: t0, AuthedMs: t0 + 100, EndedMs: gapFrom, EndReason: "server_closed",
			HistSeen: 100, HistArrived: int64(92 - r%3), Anonymous: r%2 == 1, Sampled: r%2 == 1}
		ch <- storage.Conn{Seq: int64(2*r + 2), RoomID: room, StartedMs: gapTo - 200, AuthedMs: gapTo, EndedMs: t0 + span, EndReason: "stopped"}
	}
	per := events / rooms
	for r := range rooms {
		room := int64(1000 + r)
		for i := range per {
			recv := t0 + 100 + int64(i)*(span-200)/int64(per)
			if recv >= gapFrom && recv < gapTo {
				recv -= 11 * 60_000
			}
			b := protocol.Base{RoomID: room, TsMs: recv - 50}
			var e protocol.Event
			switch {
			case i%50 == 7:
				b.Kind, b.Cmd = protocol.KindGift, "SEND_GIFT"
				e = &protocol.Gift{Base: b, UID: 7, GiftID: 1, GiftName: "小花花", Num: 2, Price: 100, TotalCoin: 200, CoinType: "gold",
					TID: fmt.Sprintf("t%d-%d", room, i)}
			case i%400 == 11:
				b.Kind, b.Cmd = protocol.KindSuperChat, "SUPER_CHAT_MESSAGE"
				e = &protocol.SuperChat{Base: b, ID: room*1e7 + int64(i), UID: 9, Price: 30, Message: "sc", DurationS: 60}
			case i%500 == 13:
				b.Kind, b.Cmd = protocol.KindGuard, "GUARD_BUY"
				e = &protocol.Guard{Base: b, UID: 10 + int64(i), GuardLevel: 3, Num: 1, Price: 198000, StartTime: recv / 1000}
			case i%5 == 1:
				b.Kind, b.Cmd = protocol.KindInteract, "INTERACT_WORD"
				e = &protocol.Interact{Base: b, UID: int64(i), MsgType: 1, TriggerTimeNs: recv * 1e6}
			default:
				b.Kind, b.Cmd = protocol.KindDanmaku, "DANMU_MSG"
				e = &protocol.Danmaku{Base: b, UID: int64(i), Uname: "u", Text: "弹幕", IDStr: fmt.Sprintf("%d-%d", room, i), Mode: 1}
			}
			ch <- storage.Event{E: e, RecvMs: recv}
		}
	}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.EndRun(context.Background(), run, "ok"); err != nil {
		t.Fatal(err)
	}
}

var statRe = regexp.MustCompile(`data-stat="([^"]+)">([^<]*)<`)

// stats reads the data-stat figures of a report.
func stats(html string) map[string]string {
	out := map[string]string{}
	for _, m := range statRe.FindAllStringSubmatch(html, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestReportHTML: the report of a file shows the stats figures, the
// gap, every chart; it is self-contained (nothing to fetch, no script)
// and a title from Bilibili is text.
func TestReportHTML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	fixture(t, path, 4, 3, 4000)
	ds, err := Load(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ds.WriteHTML(&b, time.Now()); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	got := stats(html)
	for table, n := range ds.Summary.Rows {
		if got["rows."+table] != strconv.FormatInt(n, 10) {
			t.Errorf("rows.%s = %q, stats says %d", table, got["rows."+table], n)
		}
	}
	if got["runs"] != "1" || got["rooms_seen"] != "4" || got["overall_coverage"] != percent(ds.Summary.OverallCoverage) {
		t.Errorf("figures %v", got)
	}
	// 4 rooms × 20 gifts × 2 × 100 coins = ¥16; 4 × 3 super chats × ¥30; 4 × 2 guards × 198 CNY.
	if got["cny.gifts"] != "¥16.00" || got["cny.super_chats"] != "¥360.00" || got["cny.guards"] != "¥1,584.00" {
		t.Errorf("revenue %s %s %s", got["cny.gifts"], got["cny.super_chats"], got["cny.guards"])
	}
	var all, anon int64 // rooms 1 and 3 were anonymous before the gap
	for _, sp := range ds.Act.Spans {
		all += sp.ToMs - sp.FromMs
		if sp.Anonymous {
			anon += sp.ToMs - sp.FromMs
		}
	}
	if want := fmt.Sprintf("%.1f%%", 100*float64(anon)/float64(all)); got["share.anonymous"] != want || anon == 0 || got["share.sampled"] != "0.0%" {
		t.Errorf("identity shares %s %s, want %s anonymous", got["share.anonymous"], got["share.sampled"], want)
	}
	if !strings.Contains(html, "no connection from 2026-11-27 13:30:00 UTC") {
		t.Errorf("the 10-minute gap is not listed")
	}
	for _, bad := range []string{"<script", "src=", "http://", "https://", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q: not self-contained or not escaped", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;") {
		t.Errorf("the hostile title is not shown as text")
	}
	if n := strings.Count(html, "<svg"); n < 8 {
		t.Errorf("%d charts, want at least 8", n)
	}
}

// TestReportMergesFiles: two files are one data set — rows add up, a
// room's coverage comes from its judged items over both.
func TestReportMergesFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	fixture(t, a, 3, 1, 600)
	fixture(t, b, 3, 1, 600)
	one, err := Load(context.Background(), []string{a})
	if err != nil {
		t.Fatal(err)
	}
	both, err := Load(context.Background(), []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if both.Summary.Rows["danmaku"] != 2*one.Summary.Rows["danmaku"] || both.Summary.Runs != 2 {
		t.Errorf("merged: %d danmaku, %d runs; one file %d", both.Summary.Rows["danmaku"], both.Summary.Runs, one.Summary.Rows["danmaku"])
	}
	if k := both.Summary.Rooms["1000"].Kinds["danmaku"]; k != 2*one.Summary.Rooms["1000"].Kinds["danmaku"] {
		t.Errorf("room 1000: %d danmaku merged", k)
	}
	c1, c2 := one.Summary.Coverage["1000"], both.Summary.Coverage["1000"]
	if c1 == nil || c2 == nil || *c1 != *c2 {
		t.Errorf("room 1000's coverage: one file %v, both %v (the same shares twice)", c1, c2)
	}
	if len(both.Act.Spans) != 2*len(one.Act.Spans) {
		t.Errorf("%d connections merged", len(both.Act.Spans))
	}
	if _, err := Load(context.Background(), []string{a, filepath.Join(dir, "missing.db")}); err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Errorf("a missing file: %v", err)
	}
}

// BenchmarkReport1M reads a file of 1,000,000 events (100 rooms over 24
// hours; built once with the writer, which takes a while) and writes
// its report:
//
//	go test -run '^$' -bench Report1M -benchtime 3x ./report/
func BenchmarkReport1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.db")
	fixture(b, path, 100, 24, 1_000_000)
	b.ResetTimer()
	for b.Loop() {
		ds, err := Load(context.Background(), []string{path})
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := ds.WriteHTML(&out, time.Now()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(out.Len()), "bytes")
	}
}
