package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/export"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// shardFixture writes one finished collect run of one shard into a new
// file: its rooms, a discovery round, a connection per room and day with
// coverage counts, and per room and day danmaku, gifts, enters,
// counters, a super chat and a guard, from 20:00 UTC+8 of exportT0's day
// past midnight, for days days. keys makes the events differ between
// files.
func shardFixture(t *testing.T, path, shard, keys string, rooms []int64, days int) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.StartRun(ctx, storage.RunInfo{Version: "test", Args: "collect", Shard: shard})
	if err != nil {
		t.Fatal(err)
	}
	var recs []storage.Record
	add := func(e protocol.Event, recv int64) { recs = append(recs, storage.Event{E: e, RecvMs: recv}) }
	seq := int64(0)
	for ri, room := range rooms {
		recs = append(recs, storage.RoomMeta{RoomID: room, Title: keys + " room", AnchorName: "a" + keys, SeenMs: exportT0},
			storage.Snapshot{Round: 1, AtMs: exportT0 - 5000, RoomID: room, Rank: ri + 1, Desired: true})
		for d := range days {
			start := exportT0 + int64(d)*86_400_000
			seq++
			recs = append(recs, storage.Conn{Seq: seq, RoomID: room, StartedMs: start, AuthedMs: start + 200, EndedMs: start + 5*3_600_000,
				EndReason: "stopped", HistSeen: 150, HistArrived: 140 + int64(ri), UID: 5})
			for i := range 40 {
				recv := start + int64(i)*450_000 // every 7.5 min for 5 h: past midnight
				k := fmt.Sprintf("%s-%d-%d-%d", keys, room, d, i)
				add(&protocol.Danmaku{Base: base(protocol.KindDanmaku, "DANMU_MSG", room, recv-20), IDStr: k, Text: "弹幕 " + k, UID: 9}, recv)
				add(&protocol.Interact{Base: base(protocol.KindInteract, "INTERACT_WORD_V2", room, recv), TriggerTimeNs: recv*1e6 + int64(keys[0]), MsgType: 1}, recv)
				add(&protocol.Counter{Base: base(protocol.KindCounter, "ONLINE_RANK_COUNT", room, 0), Name: "online_count", Value: int64(i)}, recv)
				if i%4 == 0 {
					add(&protocol.Gift{Base: base(protocol.KindGift, "SEND_GIFT", room, recv-5), TID: k, Num: 1, Price: 100, TotalCoin: 100,
						CoinType: "gold", GiftName: "g"}, recv)
				}
			}
			id := int64(keys[0])*1_000_000 + room*10 + int64(d)
			add(&protocol.SuperChat{Base: base(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE", room, start), ID: id, Price: 30, Message: "sc"}, start+60_000)
			add(&protocol.Guard{Base: base(protocol.KindGuard, "GUARD_BUY", room, start), UID: id, GuardLevel: 3, Num: 1, Price: 198000,
				StartTime: start / 1000}, start+90_000)
		}
	}
	w := storage.NewWriter(db, storage.WriterOptions{RunID: run, FlushInterval: time.Hour})
	ch := make(chan storage.Record, len(recs))
	for _, r := range recs {
		ch <- r
	}
	close(ch)
	if err := w.Run(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := db.EndRun(ctx, run, "ok"); err != nil {
		t.Fatal(err)
	}
}

// twoShards writes two shard files with a room in common (different
// events) into dir.
func twoShards(t *testing.T, dir string) (a, b string) {
	a, b = filepath.Join(dir, "shard-0.db"), filepath.Join(dir, "shard-1.db")
	shardFixture(t, a, "0/2", "a", []int64{1001, 2002}, 3)
	shardFixture(t, b, "1/2", "b", []int64{2002, 3003}, 2)
	return a, b
}

// TestMergeCommand: `merge` combines two shard files and says how fast;
// merged again it adds nothing; stats and every export format over the
// two files give exactly what they give over the merged file; a foreign
// input is refused (exit 2) and left as it was.
func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := twoShards(t, dir)
	out := filepath.Join(dir, "all.db")
	code, _, errs := runCLI(t, "", "merge", "--db", out, a, b)
	if code != 0 || !strings.Contains(errs, "rows/s") || !strings.Contains(errs, "danmaku: +") {
		t.Fatalf("merge: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI(t, "", "merge", "--db", out, filepath.Join(dir, "shard-*.db"))
	if code != 0 || !strings.Contains(errs, "2 file(s) into "+out) || !strings.Contains(errs, ", 0 added") {
		t.Fatalf("merge again: exit %d: %s", code, errs)
	}
	for _, args := range [][]string{{"stats"}, {"stats", "--json"}, {"export", "--format", "jsonl"}} {
		_, many, e1 := runCLI(t, "", append(args, "--db", a, "--db", b)...)
		_, one, e2 := runCLI(t, "", append(args, "--db", out)...)
		if args[len(args)-1] == "stats" { // the text names the files
			many = strings.Replace(many, "2 files ("+a+", "+b+")", out, 1)
		}
		if many != one || len(one) < 1000 {
			t.Errorf("%v over the files differs from over the merge (%s %s):\n%.300s\n---\n%.300s", args, e1, e2, many, one)
		}
	}
	for _, format := range []string{"csv", "xml", "parquet"} {
		d1, d2 := filepath.Join(dir, format+"-many"), filepath.Join(dir, format+"-one")
		runCLI(t, "", "export", "--db", filepath.Join(dir, "shard-?.db"), "--format", format, "-o", d1)
		runCLI(t, "", "export", "--db", out, "--format", format, "-o", d2)
		if x, y := dirBytes(t, d1), dirBytes(t, d2); x != y || len(x) < 1000 {
			t.Errorf("%s export of the files differs from the merge's (%d and %d bytes)", format, len(x), len(y))
		}
	}
	foreign := filepath.Join(dir, "notes.txt")
	os.WriteFile(foreign, []byte(strings.Repeat("not a database\n", 20)), 0o644)
	code, _, errs = runCLI(t, "", "merge", "--db", filepath.Join(dir, "x.db"), a, foreign)
	if code != exitUsage || !strings.Contains(errs, foreign) || !strings.Contains(errs, "not a danmakud database") {
		t.Errorf("foreign input: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(foreign); string(b) != strings.Repeat("not a database\n", 20) {
		t.Errorf("the foreign input was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a refused merge created its output")
	}
	code, _, errs = runCLI(t, "", "stats", "--db", filepath.Join(dir, "none-*.db"))
	if code != exitFailure || !strings.Contains(errs, "none-*.db") {
		t.Errorf("a glob matching nothing: exit %d: %s", code, errs)
	}
}

// dirBytes is every file of dir, by name, in one string.
func dirBytes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "== %s\n%s\n", rel, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// duckdbDir holds the DuckDB check (check.mjs) and its npm packages,
// installed by `make duckdb` (npm ci).
const duckdbDir = "testdata/duckdb"

// duckdbReady says whether the DuckDB packages are installed. Without
// them it fails the test when DANMAKUD_DUCKDB=1 (make test, which
// installs them) and returns false otherwise.
func duckdbReady(t *testing.T) bool {
	t.Helper()
	if _, err := os.Stat(filepath.Join(duckdbDir, "node_modules", "@duckdb", "node-api")); err != nil {
		if os.Getenv("DANMAKUD_DUCKDB") == "1" {
			t.Fatalf("DuckDB packages not installed (cd cmd/danmakud/%s && npm ci): %v", duckdbDir, err)
		}
		return false
	}
	return true
}

// duckdbResult is what check.mjs prints: the room counts it compared,
// the day directories, the danmaku rows.
type duckdbResult struct {
	Compared int      `json:"compared"`
	Days     []string `json:"days"`
	Rows     int64    `json:"rows"`
}

// duckdbCount has DuckDB (check.mjs) read the Parquet segments under seg
// and compare its counts per room and kind with stats (`stats --json`
// of the same data); kinds is how many kinds it compares per room.
func duckdbCount(t *testing.T, seg, stats string) (res duckdbResult, kinds int) {
	t.Helper()
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	if err := os.WriteFile(statsFile, []byte(stats), 0o644); err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, et := range storage.EventTables() {
		if et.RoomKind != "" {
			list = append(list, string(et.Kind)+"="+et.Name)
		}
	}
	cmd := exec.Command("node", "check.mjs", seg, statsFile, strings.Join(list, ","))
	cmd.Dir = duckdbDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("check.mjs: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("check.mjs printed %q: %v", stdout.String(), err)
	}
	return res, len(list)
}

// TestDuckDBReadsSegments: DuckDB (npm @duckdb/node-api, a reader
// nobody here wrote) reads the Parquet segments of two shard files as
// one table per kind, and counts the same events per room and kind as
// `stats --json` over the files; the day directories hold the rows of
// their UTC+8 day, and the TIMESTAMP columns are the times. Skipped when
// the packages are not installed, unless DANMAKUD_DUCKDB=1 (make test).
func TestDuckDBReadsSegments(t *testing.T) {
	if !duckdbReady(t) {
		t.Skip("DuckDB packages not installed: make duckdb")
	}
	dir := t.TempDir()
	a, b := twoShards(t, dir)
	seg := filepath.Join(dir, "segments")
	if code, _, errs := runCLI(t, "", "export", "--db", a, "--db", b, "--format", "parquet", "--partition", "day", "-o", seg); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	code, stats, errs := runCLI(t, "", "stats", "--db", a, "--db", b, "--json")
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errs)
	}
	res, kinds := duckdbCount(t, seg, stats)
	var s storage.Summary
	json.Unmarshal([]byte(stats), &s)
	day := func(d int) string {
		return time.UnixMilli(exportT0 + int64(d)*86_400_000).In(export.Zone).Format(time.DateOnly)
	}
	if res.Compared != 3*kinds || res.Rows != s.Rows["danmaku"] || strings.Join(res.Days, " ") != strings.Join([]string{day(0), day(1), day(2), day(3)}, " ") {
		t.Errorf("DuckDB compared %d room counts (want %d), read %d danmaku (stats: %d), days %v", res.Compared, 3*kinds, res.Rows, s.Rows["danmaku"], res.Days)
	}
}
