package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// daysFixture writes a file whose rows visit days days in blocks of
// ten rows, round after round (n rows per day in all): with more days
// than parts stay open, a day's rows come back after its part was
// closed. Each day's rows run from 20:00 UTC+8 past midnight, every 10
// minutes. Keys carry keys, so two files with different keys hold
// different events. Super chats have no server time (ts_ms 0).
func daysFixture(t *testing.T, path, keys string, room int64, days, n int) {
	t.Helper()
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := storage.NewWriter(db, storage.WriterOptions{RunID: 1, FlushInterval: time.Hour})
	ch := make(chan storage.Record, days*n*3)
	for block := 0; block < n; block += 10 {
		for d := range days {
			for i := block; i < min(block+10, n); i++ {
				recv := t0 + int64(d)*86_400_000 + int64(i)*600_000
				b := protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: room, TsMs: recv - 3}
				key := fmt.Sprintf("%s-%d-%d", keys, d, i)
				ch <- storage.Event{E: &protocol.Danmaku{Base: b, IDStr: key, Text: key}, RecvMs: recv}
				b.Kind, b.Cmd, b.TsMs = protocol.KindCounter, "WATCHED_CHANGE", 0
				ch <- storage.Event{E: &protocol.Counter{Base: b, Name: "watched", Value: int64(i)}, RecvMs: recv}
				b.Kind, b.Cmd = protocol.KindSuperChat, "SUPER_CHAT_MESSAGE"
				ch <- storage.Event{E: &protocol.SuperChat{Base: b, ID: int64(d*10000 + i), Message: key}, RecvMs: recv}
			}
		}
	}
	close(ch)
	if err := w.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
}

var partName = regexp.MustCompile(`^part-[0-9a-f]{16}-[0-9]{4}\.parquet$`)

// readParts reads every part of a table under dir: its rows as export
// reads them (the stamps checked and left out), as strings, sorted;
// and the files.
func readParts(t *testing.T, dir string, et *storage.EventTable) (rows []string, files []string) {
	t.Helper()
	files, _ = filepath.Glob(filepath.Join(dir, et.Name, "day=*", "part-*.parquet"))
	layout := parquetLayout(et, true)
	for _, path := range files {
		if !partName.MatchString(filepath.Base(path)) {
			t.Errorf("part name %s", path)
		}
		day := strings.TrimPrefix(filepath.Base(filepath.Dir(path)), "day=")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fields := pf.Schema().Fields()
		for i, l := range layout {
			if !l.stamp {
				continue
			}
			lt := fields[i].Type().LogicalType()
			var ts *format.TimestampType
			if lt != nil {
				ts, _ = lt.Value.(*format.TimestampType)
			}
			if fields[i].Name() != stampName(l.col.Name) || ts == nil || !ts.IsAdjustedToUTC || !isMillis(ts.Unit) || !fields[i].Optional() {
				t.Fatalf("%s: column %d is %s %v, want the TIMESTAMP(UTC, ms) of %s", path, i, fields[i].Name(), lt, l.col.Name)
			}
		}
		r := parquet.NewReader(f)
		buf := make([]parquet.Row, 64)
		for {
			n, err := r.ReadRows(buf)
			for _, pr := range buf[:n] {
				row := make([]any, 0, len(et.Columns))
				var recv int64
				for i, l := range layout {
					v := pr[i]
					if l.stamp {
						ms, _ := row[len(row)-1].(int64)
						if (ms == 0) != v.IsNull() || ms != 0 && v.Int64() != ms {
							t.Fatalf("%s: %s is %v beside %s %d", path, stampName(l.col.Name), v, l.col.Name, ms)
						}
						continue
					}
					switch {
					case v.IsNull():
						row = append(row, nil)
					case v.Kind() == parquet.Int64:
						row = append(row, v.Int64())
					default:
						row = append(row, string(v.ByteArray()))
					}
					if l.col.Name == "recv_ms" {
						recv = v.Int64()
					}
				}
				if dayOf(recv) != day {
					t.Fatalf("%s: a row received %d is on %s", path, recv, dayOf(recv))
				}
				rows = append(rows, fmt.Sprint(row))
			}
			if err != nil {
				break
			}
		}
		r.Close()
		f.Close()
	}
	slices.Sort(rows)
	return rows, files
}

// wantRows are the rows of et in the files, as strings, sorted.
func wantRows(t *testing.T, paths []string, et *storage.EventTable) []string {
	t.Helper()
	set, err := storage.OpenSet(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var rows []string
	if err := set.ScanEvents(context.Background(), et.Table, storage.ExportFilter{}, func(row []any) error {
		rows = append(rows, fmt.Sprint(row))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}

// TestPartitionedParquet: two files as Parquet segments per day read
// back (parquet-go) as exactly their rows, each in the directory of its
// receive day in UTC+8, with the TIMESTAMP columns beside the times; a
// day whose rows come back after its part was closed gets a second
// part. Exporting again replaces (the same files, no row twice),
// removes a part of the same file that is no longer written, and leaves
// other files' parts and days outside --since/--until alone.
func TestPartitionedParquet(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	daysFixture(t, a, "a", 1001, 6, 30)
	daysFixture(t, b, "b", 2002, 2, 30)
	out := filepath.Join(dir, "seg")
	run := func(f storage.ExportFilter) Result {
		t.Helper()
		res, err := Options{DBs: []string{a, b}, Format: Parquet, Partition: PartitionDay, Out: out, Filter: f}.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run(storage.ExportFilter{})
	var parts []string
	for _, et := range tablesNamed("danmaku", "counters", "super_chats") {
		got, files := readParts(t, out, et)
		if want := wantRows(t, []string{a, b}, et); !slices.Equal(got, want) || len(want) != 240 {
			t.Errorf("%s: %d rows read back, want %d (or different)", et.Name, len(got), len(want))
		}
		parts = append(parts, files...)
	}
	days, _ := filepath.Glob(filepath.Join(out, "danmaku", "day=*"))
	again, _ := filepath.Glob(filepath.Join(days[0], "part-*-0001.parquet"))
	if len(days) != 7 || len(again) != 1 || first.Rows != 720 {
		t.Errorf("%d days (want 7), %d second parts of the first day (want 1), %d rows (want 720)", len(days), len(again), first.Rows)
	}
	// Leftovers: a part of a.db's no longer written, one of another file,
	// and (for the ranged run below) one of a.db on a day outside it.
	db, _ := storage.OpenReadOnly(a)
	id, _ := db.ID(context.Background())
	db.Close()
	dayDir := filepath.Join(out, "danmaku", "day="+dayOf(t0))
	stale := filepath.Join(dayDir, "part-"+id[:partTagLen]+"-0099.parquet")
	other := filepath.Join(dayDir, "part-ffffffffffffffff-0000.parquet")
	lastDay := filepath.Join(out, "danmaku", "day="+dayOf(t0+5*86_400_000))
	outside := filepath.Join(lastDay, "part-"+id[:partTagLen]+"-0098.parquet")
	for _, p := range []string{stale, other} {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	second := run(storage.ExportFilter{})
	if !slices.Equal(first.Files, second.Files) || len(first.Files) != len(parts) {
		t.Errorf("a second export wrote other files: %d, then %d", len(first.Files), len(second.Files))
	}
	if got, _ := readPartsExcept(t, out, other); len(got) != 240 {
		t.Errorf("after the second export danmaku has %d rows, want 240", len(got))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a.db's part that was not written again is still there")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's part was touched: %v", err)
	}
	os.WriteFile(outside, []byte("x"), 0o644)
	run(storage.ExportFilter{SinceMs: t0, UntilMs: t0 + 86_400_000})
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("a part outside --since/--until was removed: %v", err)
	}
}

// readPartsExcept reads the danmaku parts, skipping the file skip.
func readPartsExcept(t *testing.T, out, skip string) ([]string, error) {
	t.Helper()
	os.Rename(skip, skip+".aside")
	defer os.Rename(skip+".aside", skip)
	rows, _ := readParts(t, out, storage.EventTableFor("danmaku"))
	return rows, nil
}

func isMillis(u format.TimeUnit) bool {
	_, ok := u.Value.(*format.MilliSeconds)
	return ok
}
