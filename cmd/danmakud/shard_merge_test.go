package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/storage"
)

// recvSlack is how much later than the simulator sent it a process may
// stamp an event's recv_ms on a busy 2-core box under -race: the bounds
// of the comparison with the reference (the cut, the kill, the return)
// are widened by it.
const recvSlack = 3 * time.Second

// checkMerged merges the shards' files (the built binary's merge, twice:
// the second adds nothing) and checks the merge against the reference
// run table by table (compareWithReference), against stats of the four
// files, for the shard each run and connection came from, and, exported
// as Parquet segments, through DuckDB.
func checkMerged(t *testing.T, r *shardResult) {
	merged := filepath.Join(r.dir, "merged.db")
	mergeShards(t, r, merged)
	checkMergedRuns(t, r, merged)
	stats := checkMergedStats(t, r, merged)
	events := compareWithReference(t, r, merged)
	checkSegments(t, r, merged, stats, events)
}

// mergeLine is merge's summary line: rows read, its rate, rows added.
var mergeLine = regexp.MustCompile(`: (\d+) rows read \((\d+) rows/s\), (\d+) added`)

// mergeShards runs `merge --db merged shard-0.db … shard-3.db`, logs its
// speed, and runs it again: exit 0, nothing added, every table's rows as
// they were.
func mergeShards(t *testing.T, r *shardResult, merged string) {
	t.Helper()
	merge := func() (read, rate, added int64) {
		t.Helper()
		cmd := exec.Command(r.bin, append([]string{"merge", "--db", merged}, r.files...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		m := mergeLine.FindStringSubmatch(stderr.String())
		if err != nil || m == nil {
			t.Fatalf("merge: %v: %s", err, stderr.String())
		}
		read, _ = strconv.ParseInt(m[1], 10, 64)
		rate, _ = strconv.ParseInt(m[2], 10, 64)
		added, _ = strconv.ParseInt(m[3], 10, 64)
		t.Logf("merge of %d files: %d rows read, %d added, %d rows/s as it says (%s for the process: %.0f rows/s)",
			len(r.files), read, added, rate, took.Round(time.Millisecond), float64(read)/took.Seconds())
		return read, rate, added
	}
	if read, _, added := merge(); added == 0 || added > read {
		t.Fatalf("the merge added %d of the %d rows read", added, read)
	}
	before := tableRows(t, merged)
	if _, _, added := merge(); added != 0 {
		t.Errorf("merged again, the merge added %d rows, want none", added)
	}
	after := tableRows(t, merged)
	for _, tb := range storage.Tables() {
		if before[tb.Name] != after[tb.Name] {
			t.Errorf("merged again, %s went from %d rows to %d", tb.Name, before[tb.Name], after[tb.Name])
		}
	}
}

// tableRows counts the rows of every table of the registry in the file.
func tableRows(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	n := map[string]int64{}
	for _, tb := range storage.Tables() {
		var c int64
		if err := db.SQL.QueryRow("SELECT count(*) FROM " + tb.Stored()).Scan(&c); err != nil {
			t.Fatalf("%s: count %s: %v", path, tb.Name, err)
		}
		n[tb.Name] = c
	}
	return n
}

func openRO(t *testing.T, path string) *storage.DB {
	t.Helper()
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

// checkMergedRuns: every run of every shard's file is in the merge once,
// with where it came from (runs.source_db, source_run) and its shard
// (runs.shard, K/4); every connection of the merge belongs to a run of
// the shard that owns its room, and each room has as many as in its
// shard's file.
func checkMergedRuns(t *testing.T, r *shardResult, merged string) {
	t.Helper()
	ctx := context.Background()
	m := openRO(t, merged)
	defer m.Close()
	type origin struct {
		db  string
		run int64
	}
	shardOf := map[origin]string{}
	rows, err := m.SQL.Query("SELECT source_db, source_run, shard FROM runs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var o origin
		var shard string
		if err := rows.Scan(&o.db, &o.run, &shard); err != nil {
			t.Fatalf("merged runs: %v", err)
		}
		shardOf[o] = shard
	}
	rows.Close()
	want := map[string]int64{} // room → connections in its shard's file
	runs := 0
	for k, f := range r.files {
		db := openRO(t, f)
		id, err := db.ID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := db.SQL.Query("SELECT id, shard FROM runs")
		if err != nil {
			t.Fatal(err)
		}
		for ids.Next() {
			var run int64
			var shard string
			ids.Scan(&run, &shard)
			runs++
			if got, ok := shardOf[origin{id, run}]; !ok || got != shard || shard != fmt.Sprintf("%d/%d", k, shards) {
				t.Errorf("run %d of shard %d's file (shard %q): in the merge %v, as shard %q", run, k, shard, ok, got)
			}
		}
		ids.Close()
		for _, c := range testkit.Summary(t, f).Connections {
			want[strconv.FormatInt(c.RoomID, 10)] = c.Connections
		}
		db.Close()
	}
	if len(shardOf) != runs {
		t.Errorf("the merge has %d runs, the shards' files %d", len(shardOf), runs)
	}
	got := map[string]int64{}
	conns, err := m.SQL.Query("SELECT c.room_id, r.shard FROM connections c JOIN runs r ON r.id = c.run_id")
	if err != nil {
		t.Fatal(err)
	}
	defer conns.Close()
	for conns.Next() {
		var room int64
		var shard string
		conns.Scan(&room, &shard)
		id := strconv.FormatInt(room, 10)
		if shard != fmt.Sprintf("%d/%d", r.owner[id], shards) {
			t.Errorf("a connection of room %s (shard %d's) belongs to a run of shard %q", id, r.owner[id], shard)
		}
		got[id]++
	}
	for id := range r.owner {
		if got[id] != want[id] || got[id] == 0 {
			t.Errorf("room %s: %d connections in the merge, %d in its shard's file", id, got[id], want[id])
		}
	}
}

// checkMergedStats: `stats --json` of the merge counts, per room and kind
// and per table, what it counts over the four files (`stats --db …` four
// times); it returns the merge's.
func checkMergedStats(t *testing.T, r *shardResult, merged string) string {
	t.Helper()
	stats := func(dbs ...string) (string, storage.Summary) {
		t.Helper()
		args := []string{"stats", "--json"}
		for _, db := range dbs {
			args = append(args, "--db", db)
		}
		code, out, errs := runCLI(t, "", args...)
		var s storage.Summary
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
			t.Fatalf("stats of %v: exit %d, %v: %s", dbs, code, err, errs)
		}
		return out, s
	}
	out, one := stats(merged)
	_, many := stats(r.files...)
	for id := range r.owner {
		for _, kind := range livesim.TruthKinds {
			if a, b := one.Rooms[id].Kinds[kind], many.Rooms[id].Kinds[kind]; a != b || b == 0 && kind == "danmaku" {
				t.Errorf("stats, room %s %s: %d in the merge, %d over the four files", id, kind, a, b)
			}
		}
	}
	if len(one.Rooms) != len(many.Rooms) {
		t.Errorf("stats: %d rooms in the merge, %d over the four files", len(one.Rooms), len(many.Rooms))
	}
	for _, tb := range storage.Tables() {
		if one.Rows[tb.Name] != many.Rows[tb.Name] {
			t.Errorf("stats, %s: %d rows in the merge, %d over the four files", tb.Name, one.Rows[tb.Name], many.Rows[tb.Name])
		}
	}
	return out
}

// eventRow is one stored event as compareWithReference sees it: its
// identity — the table's unique key (the registry's KeyCols) when the row
// has one, else the whole row as export writes it with recv_ms left out —
// and when it was received (recv_ms).
type eventRow struct {
	id   string
	recv int64
}

// storedEvents reads every event table of the file: per table, per room,
// its rows in the order stored. A heartbeat reply's counter is left out:
// it is the connection's own, not its room's traffic.
func storedEvents(t *testing.T, path string) map[string]map[int64][]eventRow {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	out := map[string]map[int64][]eventRow{}
	for _, et := range storage.EventTables() {
		keys := rowKeys(t, db, et)
		names := et.ColumnNames()
		recvCol, roomCol := slices.Index(names, "recv_ms"), slices.Index(names, "room_id")
		if recvCol < 0 || roomCol < 0 {
			t.Fatalf("%s has no recv_ms or room_id: %v", et.Name, names)
		}
		heartbeat := []byte(`{"kind":"` + string(et.Kind) + `","cmd":"HEARTBEAT_REPLY"`)
		rooms := map[int64][]eventRow{}
		var buf []byte
		i := 0
		err := db.ScanEvents(context.Background(), et.Table, storage.ExportFilter{}, func(row []any) error {
			if i >= len(keys) {
				return fmt.Errorf("more rows than keys (%d)", len(keys))
			}
			key := keys[i]
			i++
			recv, _ := row[recvCol].(int64)
			room, _ := row[roomCol].(int64)
			row[recvCol] = nil
			buf = et.AppendJSON(buf[:0], row)
			if bytes.HasPrefix(buf, heartbeat) {
				return nil
			}
			id := key
			if id == "" {
				id = string(buf)
			}
			rooms[room] = append(rooms[room], eventRow{id: id, recv: recv})
			return nil
		})
		if err != nil || i != len(keys) {
			t.Fatalf("%s: read %s: %v (%d rows, %d keys)", path, et.Name, err, i, len(keys))
		}
		out[et.Name] = rooms
	}
	return out
}

// rowKeys is, per row of et in the order stored, its unique key as text
// ("key" and the KeyCols' values); "" for a table without one or a row
// whose key holds a NULL (which the key does not protect).
func rowKeys(t *testing.T, db *storage.DB, et *storage.EventTable) []string {
	t.Helper()
	var n int64
	if err := db.SQL.QueryRow("SELECT count(*) FROM " + et.Stored()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	if len(et.KeyCols) == 0 {
		return keys
	}
	rows, err := db.SQL.Query("SELECT " + strings.Join(et.KeyCols, ", ") + " FROM " + et.Stored() + " ORDER BY rowid")
	if err != nil {
		t.Fatalf("%s: %v", et.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(et.KeyCols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for i := 0; rows.Next(); i++ {
		if err := rows.Scan(ptrs...); err != nil || i >= len(keys) {
			t.Fatalf("%s keys: %v (row %d of %d)", et.Name, err, i, n)
		}
		if !slices.Contains(vals, nil) {
			keys[i] = fmt.Sprintf("key %v", vals)
		}
	}
	return keys
}

// compareWithReference compares the merge with the reference run, table
// by table (every event table of the registry) and room by room. Both
// watched every room until the traffic stopped, each room on one
// connection (the killed shard's on two), and a connection gets its
// room's frames whole and in order, so a room's rows, in the order
// stored, are the room's traffic from the moment its process joined it
// (the cut is after every process joined every room):
//   - rooms of the shards that ran throughout: the two end with the same
//     rows, and only one of them has rows before those, all received
//     before the cut;
//   - the killed shard's rooms: the same, except that the merge lacks one
//     run of the reference's rows (nothing else), all received by the
//     reference between the kill and the shard's return; per kind, no
//     more of them than the truth says it missed (what its rooms
//     generated after the cut and it never stored: the gap, and what the
//     kernel held at the kill).
//
// It returns the events stored in the merge.
func compareWithReference(t *testing.T, r *shardResult, merged string) (events int64) {
	t.Helper()
	ref, got := storedEvents(t, r.ref), storedEvents(t, merged)
	slack := recvSlack.Milliseconds()
	cut := r.cutMs + slack
	inGap := func(recv int64) bool { return recv >= r.killMs-slack && recv <= r.backMs+slack }
	missing := map[string]int64{} // per kind, in the killed shard's rooms
	var gapFrom, gapTo int64
	for _, et := range storage.EventTables() {
		var sum alignment
		rooms := map[int64]bool{}
		for room, rows := range got[et.Name] {
			rooms[room] = true
			events += int64(len(rows))
		}
		for room := range ref[et.Name] {
			rooms[room] = true
		}
		for room := range rooms {
			id := strconv.FormatInt(room, 10)
			k, ok := r.owner[id]
			if !ok {
				t.Errorf("%s: room %s is not one of the simulator's", et.Name, id)
				continue
			}
			gapOK := func(int64) bool { return false }
			if k == killedShard {
				gapOK = inGap
			}
			a, err := alignRows(ref[et.Name][room], got[et.Name][room], cut, gapOK)
			if err != nil {
				t.Errorf("%s, room %s (shard %d): the merge is not the reference's rows: %v", et.Name, id, k, err)
				continue
			}
			sum.common += a.common
			sum.headRef += a.headRef
			sum.headMerged += a.headMerged
			sum.gap = append(sum.gap, a.gap...)
		}
		for _, g := range sum.gap {
			if gapFrom == 0 || g.recv < gapFrom {
				gapFrom = g.recv
			}
			gapTo = max(gapTo, g.recv)
		}
		missing[et.RoomKind] += int64(len(sum.gap))
		t.Logf("%s: %d rows in the merge and the reference alike; before the cut %d only in the reference, %d only in the merge; %d in the killed shard's gap",
			et.Name, sum.common, sum.headRef, sum.headMerged, len(sum.gap))
	}
	var total int64
	for _, kind := range livesim.TruthKinds {
		total += missing[kind]
		if missing[kind] > r.missed[kind] {
			t.Errorf("the killed shard's rooms: %d %s events in the reference and not in the merge, more than the %d the truth says it missed",
				missing[kind], kind, r.missed[kind])
		}
	}
	if total == 0 {
		t.Errorf("the merge lacks none of the reference's events in the killed shard's rooms: its gap does not show")
	}
	t.Logf("the killed shard's gap in the reference: %d events (the truth: %v missed), received from the kill%+d ms to its return%+d ms",
		total, r.missed, gapFrom-r.killMs, gapTo-r.backMs)
	return events
}

// alignment is how the merge's rows of one room and table fit the
// reference's: rows in both, rows only one has before those (before the
// cut), and the reference's rows the merge lacks after that (the gap).
type alignment struct {
	common, headRef, headMerged int
	gap                         []eventRow
}

// alignRows fits m, the merge's rows of one room and table, to r, the
// reference's (see compareWithReference): both end with the same rows;
// before those, m is r with one run of rows taken out, each of which
// gapOK must accept; and one of them may begin with rows the other lacks,
// each received before cut. Rows with equal identities make more than one
// fit possible: any fit that keeps the rules will do. It returns the fit,
// or says where none is found.
func alignRows(r, m []eventRow, cut int64, gapOK func(recv int64) bool) (alignment, error) {
	n := 0 // the rows both end with
	for n < len(r) && n < len(m) && r[len(r)-1-n].id == m[len(m)-1-n].id {
		n++
	}
	r2, m2 := r[:len(r)-n], m[:len(m)-n]
	before := func(rows []eventRow) bool {
		return !slices.ContainsFunc(rows, func(e eventRow) bool { return e.recv >= cut })
	}
	gap := func(rows []eventRow) bool {
		return !slices.ContainsFunc(rows, func(e eventRow) bool { return !gapOK(e.recv) })
	}
	same := func(a, b []eventRow) bool {
		return slices.EqualFunc(a, b, func(x, y eventRow) bool { return x.id == y.id })
	}
	// The reference joined first: r2 = its head, then m2, then the gap.
	// The longest head that fits: where m2 is empty (a room the shard
	// joined just before the cut and lost at the kill) the rows between
	// the kill's slack and the cut fit either, and they were received
	// before the shard could get them, so they are head, not gap.
	heads := slices.IndexFunc(r2, func(e eventRow) bool { return e.recv >= cut }) // rows before the cut
	if heads < 0 {
		heads = len(r2)
	}
	for s := min(heads, len(r2)-len(m2)); s >= 0; s-- {
		if same(r2[s:s+len(m2)], m2) && gap(r2[s+len(m2):]) {
			return alignment{common: n + len(m2), headRef: s, gap: r2[s+len(m2):]}, nil
		}
	}
	// The shard joined first: m2 = its head, then the rest of r2's start.
	for h := 1; h <= len(m2) && before(m2[:h]); h++ {
		if rest := len(m2) - h; rest <= len(r2) && same(m2[h:], r2[:rest]) && gap(r2[rest:]) {
			return alignment{common: n + rest, headMerged: h, gap: r2[rest:]}, nil
		}
	}
	return alignment{}, fmt.Errorf("the last %d rows agree; before them the reference has %d rows (%s) and the merge %d (%s); only in the reference: %s; only in the merge: %s",
		n, len(r2), rowSpan(r2, cut), len(m2), rowSpan(m2, cut), rowList(onlyIn(r2, m2), cut), rowList(onlyIn(m2, r2), cut))
}

// onlyIn is the rows of a that b lacks, counting rows with equal
// identities as many times as they occur.
func onlyIn(a, b []eventRow) []eventRow {
	have := map[string]int{}
	for _, e := range b {
		have[e.id]++
	}
	var out []eventRow
	for _, e := range a {
		if have[e.id] > 0 {
			have[e.id]--
			continue
		}
		out = append(out, e)
	}
	return out
}

// rowList describes up to three rows for an error: when each was
// received, from the cut, and its identity.
func rowList(rows []eventRow, cut int64) string {
	if len(rows) == 0 {
		return "none (the same rows in another order)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows", len(rows))
	for _, e := range rows[:min(3, len(rows))] {
		fmt.Fprintf(&b, "; cut%+d ms %.200s", e.recv-cut, e.id)
	}
	return b.String()
}

// rowSpan describes rows for an error: when the first and last were
// received, from the cut, and the last's identity.
func rowSpan(rows []eventRow, cut int64) string {
	if len(rows) == 0 {
		return "none"
	}
	last := rows[len(rows)-1]
	return fmt.Sprintf("received from cut%+d ms to cut%+d ms, the last %.200s", rows[0].recv-cut, last.recv-cut, last.id)
}

// checkSegments exports the merge as Parquet segments (export --format
// parquet --partition day), logs the bytes per stored event of the
// SQLite file and of the segments, and has DuckDB count the segments'
// events per room and kind: what stats counts in the merge (stats is its
// `stats --json`). Only the DuckDB step is skipped when its packages are
// not installed, and only outside make test (duckdbReady).
func checkSegments(t *testing.T, r *shardResult, merged, stats string, events int64) {
	t.Helper()
	seg := filepath.Join(r.dir, "segments")
	if code, _, errs := runCLI(t, "", "export", "--db", merged, "--format", "parquet", "--partition", "day", "-o", seg); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	sqlite, parquet := treeBytes(t, merged), treeBytes(t, seg)
	if events == 0 || parquet == 0 {
		t.Fatalf("%d events stored, %d bytes of segments", events, parquet)
	}
	t.Logf("bytes per stored event (%d events): SQLite %.1f (%d bytes), Parquet %.1f (%d bytes)",
		events, float64(sqlite)/float64(events), sqlite, float64(parquet)/float64(events), parquet)
	if !duckdbReady(t) {
		t.Log("the DuckDB step skipped: its packages are not installed (make duckdb)")
		return
	}
	res, kinds := duckdbCount(t, seg, stats)
	var s storage.Summary
	if err := json.Unmarshal([]byte(stats), &s); err != nil {
		t.Fatal(err)
	}
	if res.Compared != len(s.Rooms)*kinds || res.Rows != s.Rows["danmaku"] || len(res.Days) == 0 {
		t.Errorf("DuckDB compared %d room counts (want %d rooms × %d kinds), read %d danmaku (stats: %d), days %v",
			res.Compared, len(s.Rooms), kinds, res.Rows, s.Rows["danmaku"], res.Days)
	}
}

// treeBytes is the size of the file at path, with its -wal if it has
// one, or of every file under the directory at path.
func treeBytes(t *testing.T, path string) (n int64) {
	t.Helper()
	err := filepath.Walk(path, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		n += fi.Size()
	}
	return n
}

// TestAlignRows: the fits compareWithReference accepts — a head on
// either side before the cut, one run taken out where the gap may be —
// and those it refuses: a head after the cut, a row only the merge has,
// a row twice, a changed row, a gap outside its window or where none may
// be, two gaps.
func TestAlignRows(t *testing.T) {
	rows := func(spec string) []eventRow { // "a1 b2 …": identity, then recv
		var out []eventRow
		for _, f := range strings.Fields(spec) {
			recv, _ := strconv.ParseInt(f[1:], 10, 64)
			out = append(out, eventRow{id: f[:1], recv: recv})
		}
		return out
	}
	const cut = 5
	noGap := func(int64) bool { return false }
	gapAt := func(recv int64) bool { return recv >= 20 && recv <= 30 }
	for _, c := range []struct {
		name, ref, merged string
		gapOK             func(int64) bool
		want              *alignment // nil: refused
	}{
		{"the same", "a1 b6 c7", "a1 b6 c7", noGap, &alignment{common: 3}},
		{"the reference first", "x1 y2 a3 b6 c7", "a3 b6 c7", noGap, &alignment{common: 3, headRef: 2}},
		{"the shard first", "b6 c7", "x1 a4 b6 c7", noGap, &alignment{common: 2, headMerged: 2}},
		{"repeated identities", "a1 a2 a3 a7 a8", "a3 a7 a8", noGap, &alignment{common: 3, headRef: 2}},
		{"a gap", "x1 a3 b10 g21 g25 c31 d40", "a3 b10 c31 d40", gapAt, &alignment{common: 4, headRef: 1, gap: rows("g21 g25")}},
		{"a gap, the shard first", "a3 b10 g21 c31", "x1 a3 b10 c31", gapAt, &alignment{common: 3, headMerged: 1, gap: rows("g21")}},
		{"a gap at the end of the common rows", "a3 b10 g21 g22", "a3 b10", gapAt, &alignment{common: 2, gap: rows("g21 g22")}},
		{"a room the shard lost at once", "x1 y4 g21", "", func(recv int64) bool { return recv >= 3 && recv <= 30 }, &alignment{headRef: 2, gap: rows("g21")}},
		{"a head after the cut", "x1 y6 a7 b8", "a7 b8", noGap, nil},
		{"the shard's head after the cut", "a7 b8", "x1 y6 a7 b8", noGap, nil},
		{"a row only in the merge", "a1 b6 c7", "a1 b6 z6 c7", noGap, nil},
		{"a row twice", "a1 b6 c7", "a1 b6 b6 c7", noGap, nil},
		{"a changed row", "a1 b6 c7", "a1 z6 c7", noGap, nil},
		{"a gap in a room of a shard that ran throughout", "a3 b10 g21 c31", "a3 b10 c31", noGap, nil},
		{"a gap outside its window", "a3 b10 g35 c40", "a3 b10 c40", gapAt, nil},
		{"two gaps", "a3 g21 b22 g23 c31", "a3 b22 c31", gapAt, nil},
		{"a gap before the cut and the one", "a3 g4 b10 g21 c31", "a3 b10 c31", gapAt, nil},
	} {
		got, err := alignRows(rows(c.ref), rows(c.merged), cut, c.gapOK)
		switch {
		case c.want == nil && err == nil:
			t.Errorf("%s: fitted as %+v, want refused", c.name, got)
		case c.want != nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && (got.common != c.want.common || got.headRef != c.want.headRef || got.headMerged != c.want.headMerged ||
			!slices.Equal(got.gap, c.want.gap)):
			t.Errorf("%s: %+v, want %+v", c.name, got, *c.want)
		}
	}
}
