package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// shardFile describes a fixture file: one run of one shard over some
// rooms. Danmaku and gift keys are <keys>-<room>-<i>: two files with the
// same keys and a room in common hold the same events of that room.
type shardFile struct {
	shard string
	rooms []int64
	keys  string
	t0    int64 // first receive time
	n     int   // danmaku per room
}

// writeShard writes f into a new file at path as a collect run would:
// a run, rooms, a discovery round, connections with coverage counts, and
// events of every table.
func writeShard(t *testing.T, path string, f shardFile) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.StartRun(ctx, RunInfo{Version: "test", Args: "collect --shard " + f.shard, Shard: f.shard})
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	ev := func(e protocol.Event, recv int64) { recs = append(recs, Event{E: e, RecvMs: recv}) }
	for i, room := range f.rooms {
		b := func(k protocol.Kind, cmd string, ts int64) protocol.Base {
			return protocol.Base{Kind: k, Cmd: cmd, RoomID: room, TsMs: ts}
		}
		recs = append(recs, RoomMeta{RoomID: room, Title: fmt.Sprint(f.keys, " title ", room), SeenMs: f.t0},
			Snapshot{Round: 1, AtMs: f.t0 - 1000, RoomID: room, Rank: i + 1, Desired: true},
			Conn{Seq: int64(i + 1), RoomID: room, StartedMs: f.t0, AuthedMs: f.t0 + 100, EndedMs: f.t0 + int64(f.n)*1000,
				EndReason: "stopped", HistSeen: 200, HistArrived: int64(190 + i), UID: 7})
		for j := range f.n {
			recv := f.t0 + int64(j)*1000
			key := fmt.Sprintf("%s-%d-%d", f.keys, room, j)
			ev(&protocol.Danmaku{Base: b(protocol.KindDanmaku, "DANMU_MSG", recv-10), IDStr: key, Text: "t" + key, MedalName: "m" + f.keys,
				MedalAnchorUID: 5, MedalRoomID: room}, recv)
			ev(&protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE", 0), Name: "watched", Value: int64(j)}, recv)
			ev(&protocol.Interact{Base: b(protocol.KindInteract, "LIKE_INFO_V3_CLICK", 0), MsgType: 6, Uname: key}, recv)
			if j%3 == 0 {
				ev(&protocol.Gift{Base: b(protocol.KindGift, "SEND_GIFT", recv-5), TID: key, Num: 1, GiftName: "g"}, recv)
				ev(&protocol.Combo{Base: b(protocol.KindCombo, "COMBO_SEND", 0), ComboNum: int64(j)}, recv)
				ev(&protocol.Interact{Base: b(protocol.KindInteract, "INTERACT_WORD_V2", recv), TriggerTimeNs: recv * 1e6, MsgType: 1}, recv)
			}
		}
		id := int64(f.keys[0])*10000 + room // the same in two files only with the same keys
		ev(&protocol.SuperChat{Base: b(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE", f.t0), ID: id, Price: 30}, f.t0+1)
		ev(&protocol.Guard{Base: b(protocol.KindGuard, "GUARD_BUY", f.t0), UID: 9, GuardLevel: 3, Num: 1, Price: 198000, StartTime: f.t0 / 1000}, f.t0+2)
		ev(&protocol.RedPocket{Base: b(protocol.KindRedPocket, "POPULARITY_RED_POCKET_V2_START", f.t0), LotID: id, Price: 100}, f.t0+3)
		ev(&protocol.Room{Base: b(protocol.KindRoom, "LIVE", f.t0), Status: "live", Raw: []byte(`{"cmd":"LIVE"}`)}, f.t0+4)
		ev(&protocol.Other{Base: b(protocol.KindOther, "NEW_THING", 0), Raw: []byte(`{"cmd":"NEW_THING"}`)}, f.t0+5)
		recs = append(recs, Malformed{RoomID: room, RecvMs: f.t0 + 6, Reason: "bad"}, Raw{RoomID: room, RecvMs: f.t0 + 7, Cmd: "X", Body: []byte("{}")})
	}
	writeInternal(t, db, run, recs...)
	if err := db.EndRun(ctx, run, "ok"); err != nil {
		t.Fatal(err)
	}
}

// dump reads every table of the file at path as stored, in rowid order,
// without what differs between two files holding the same rows (the
// file's own id, when merges ran).
func dump(t *testing.T, path string) map[string][][]any {
	t.Helper()
	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return readAll(t, db.SQL, func(tab *Table) string {
		switch tab {
		case tDatabaseID:
			return ""
		case tMergedInputs:
			return "SELECT input_id, path, via, finished_ms IS NULL FROM merged_inputs ORDER BY rowid"
		}
		return "SELECT * FROM " + tab.Stored() + " ORDER BY rowid"
	})
}

func count(t *testing.T, db *DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.SQL.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestMergeCombines: two shard files with a room in common, whose
// danmaku, gifts and keyed interactions of that room overlap: the merged
// file holds each keyed event once, every row of the tables without a
// key, both runs with new ids, their shards and where they came from,
// and the connections under their new runs; merging the files again
// adds nothing and changes nothing.
func TestMergeCombines(t *testing.T) {
	dir := t.TempDir()
	a, b, out := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "out.db")
	writeShard(t, a, shardFile{shard: "0/2", rooms: []int64{1, 2}, keys: "k", t0: 1_800_000_000_000, n: 9})
	writeShard(t, b, shardFile{shard: "1/2", rooms: []int64{2, 3}, keys: "k", t0: 1_800_000_000_000, n: 9})
	res, err := Merge(context.Background(), out, []string{a, b}, MergeOptions{ChunkRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenReadOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for q, want := range map[string]int64{
		"SELECT count(*) FROM danmaku":                                                       27, // 9 per room; room 2's are the same in both
		"SELECT count(*) FROM gifts":                                                         9,
		"SELECT count(*) FROM interactions WHERE dedup_key IS NOT NULL":                      9,
		"SELECT count(*) FROM interactions WHERE dedup_key IS NULL":                          36, // likes have no key: all kept
		"SELECT count(*) FROM counters":                                                      36,
		"SELECT count(*) FROM combos":                                                        12,
		"SELECT count(*) FROM super_chats":                                                   3,
		"SELECT count(*) FROM red_pockets":                                                   3,
		"SELECT count(*) FROM room_events":                                                   4,
		"SELECT count(*) FROM malformed":                                                     4,
		"SELECT count(*) FROM raw_messages":                                                  4,
		"SELECT count FROM unknown_commands WHERE cmd = 'NEW_THING'":                         4,
		"SELECT count(*) FROM rooms":                                                         3,
		"SELECT count(*) FROM connections":                                                   4,
		"SELECT count(*) FROM room_snapshots":                                                4,
		"SELECT count(*) FROM runs":                                                          2,
		"SELECT count(DISTINCT shard) FROM runs WHERE source_run = 1 AND exit_status = 'ok'": 2,
		"SELECT count(*) FROM connections c JOIN runs r ON r.id = c.run_id WHERE r.shard = '1/2' AND c.room_id IN (2, 3)": 2,
		"SELECT count(*) FROM medals": 3, // one per room
		"SELECT count(*) FROM merged_inputs WHERE via IS NULL AND finished_ms IS NOT NULL": 2,
	} {
		if got := count(t, db, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	var ids []string
	for _, r := range res.Inputs {
		ids = append(ids, r.ID)
	}
	if n := count(t, db, "SELECT count(*) FROM runs WHERE source_db IN (?, ?)", ids[0], ids[1]); n != 2 || ids[0] == ids[1] {
		t.Errorf("runs from the inputs %v: %d", ids, n)
	}
	if res.Added != 2+3+4+4+27+9+3+3+3+45+36+4+12+1+4+4 || res.Inputs[1].Added["danmaku"] != 9 {
		t.Errorf("added %d: %+v", res.Added, res.Inputs)
	}
	before := dump(t, out)
	again, err := Merge(context.Background(), out, []string{b, a}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Added != 0 {
		t.Errorf("merging again added %d rows: %+v", again.Added, again.Inputs)
	}
	if after := dump(t, out); !reflect.DeepEqual(before, after) {
		t.Errorf("merging again changed the file")
	}
}

// TestManyFilesAreOneDataset: stats over two files with a room in common
// (different events) equals stats of their merge, and so do the events
// export reads, the timeline and what the rooms table says.
func TestManyFilesAreOneDataset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b, out := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "out.db")
	writeShard(t, a, shardFile{shard: "0/2", rooms: []int64{1, 2}, keys: "a", t0: 1_800_000_000_000, n: 40})
	writeShard(t, b, shardFile{shard: "1/2", rooms: []int64{2, 3}, keys: "b", t0: 1_800_000_050_000, n: 40})
	if _, err := Merge(ctx, out, []string{a, b}, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	set, err := OpenSet(ctx, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	merged, err := OpenReadOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	many, err := summarizeFiles(ctx, set.DBs, 1_900_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	one, err := merged.summarize(ctx, 1_900_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(many, one) {
		t.Errorf("stats of the files:\n%+v\nof their merge:\n%+v", many, one)
	}
	if c := one.Coverage["2"]; c == nil || one.Connections[1].HistSeen != 400 || one.Connections[1].Connections != 2 {
		t.Errorf("room 2 across the files: coverage %v, %+v", c, one.Connections[1])
	}
	for _, et := range EventTables() {
		var x, y []string
		set.ScanEvents(ctx, et.Table, ExportFilter{}, func(row []any) error { x = append(x, fmt.Sprint(row)); return nil })
		merged.ScanEvents(ctx, et.Table, ExportFilter{}, func(row []any) error { y = append(y, fmt.Sprint(row)); return nil })
		if !reflect.DeepEqual(x, y) || len(x) == 0 {
			t.Errorf("%s: %d rows from the files, %d from the merge, or different", et.Name, len(x), len(y))
		}
	}
	k := TimelineKinds{Danmaku: true, Gifts: true, SuperChats: true, Guards: true}
	var x, y []TimelineItem
	set.ScanTimeline(ctx, ExportFilter{}, k, func(it *TimelineItem) error { x = append(x, *it); return nil })
	merged.ScanTimeline(ctx, ExportFilter{}, k, func(it *TimelineItem) error { y = append(y, *it); return nil })
	if !reflect.DeepEqual(x, y) || len(x) < 200 {
		t.Errorf("timeline: %d items from the files, %d from the merge, or different", len(x), len(y))
	}
	ra, _ := set.Room(ctx, 2)
	rm, _ := merged.Room(ctx, 2)
	if ra != rm || ra.Title != "b title 2" {
		t.Errorf("room 2: files say %+v, the merge %+v", ra, rm)
	}
}

// TestMergeResumes: a merge that fails in the middle again and again
// (each time one chunk later) leaves a valid file each time, and the
// merges that follow end with exactly what one uninterrupted merge
// makes.
func TestMergeResumes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	writeShard(t, a, shardFile{shard: "0/2", rooms: []int64{1, 2}, keys: "k", t0: 1_800_000_000_000, n: 30})
	writeShard(t, b, shardFile{shard: "1/2", rooms: []int64{2, 3}, keys: "k", t0: 1_800_000_000_000, n: 30})
	clean := filepath.Join(dir, "clean.db")
	if _, err := Merge(context.Background(), clean, []string{a, b}, MergeOptions{ChunkRows: 7}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.db")
	errCut := errors.New("cut")
	t.Cleanup(func() { testHookMergeChunk = nil })
	cuts := 0
	for cuts < 1000 {
		// Each merge is cut one chunk later than the one before (the
		// tables taken again at every merge are copied again each time).
		chunks, cutAt := 0, cuts+2
		testHookMergeChunk = func(string) error {
			if chunks++; chunks == cutAt {
				return errCut
			}
			return nil
		}
		_, err := Merge(context.Background(), out, []string{a, b}, MergeOptions{ChunkRows: 7})
		if err == nil {
			break
		}
		if !errors.Is(err, errCut) {
			t.Fatal(err)
		}
		cuts++
		db, err := Open(out) // quick_check: the file is valid
		if err != nil {
			t.Fatalf("after cut %d: %v", cuts, err)
		}
		db.Close()
	}
	testHookMergeChunk = nil
	if cuts < 10 {
		t.Fatalf("only %d cuts", cuts)
	}
	if !reflect.DeepEqual(dump(t, clean), dump(t, out)) {
		t.Errorf("a merge cut %d times differs from one that was not", cuts)
	}
}

// TestMergeKilled: kill -9 in the middle of a merge's transaction; the
// file is valid and a second merge completes it to what one clean merge
// makes. The merge runs in a child process (this test binary).
func TestMergeKilled(t *testing.T) {
	if spec := os.Getenv("DANMAKUD_MERGE_CHILD"); spec != "" {
		mergeChild(spec)
		return
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	writeShard(t, a, shardFile{shard: "0/2", rooms: []int64{1, 2}, keys: "k", t0: 1_800_000_000_000, n: 30})
	writeShard(t, b, shardFile{shard: "1/2", rooms: []int64{2, 3}, keys: "k", t0: 1_800_000_000_000, n: 30})
	clean, out := filepath.Join(dir, "clean.db"), filepath.Join(dir, "out.db")
	if _, err := Merge(context.Background(), clean, []string{a, b}, MergeOptions{ChunkRows: 7}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{4, 25} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMergeKilled$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("DANMAKUD_MERGE_CHILD=%d|%s|%s|%s", at, out, a, b))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the child was not killed: %v\n%s", err, stderr.String())
		}
		db, err := Open(out)
		if err != nil {
			t.Fatalf("after kill -9 at chunk %d: %v", at, err)
		}
		if n := count(t, db, "SELECT count(*) FROM merged_inputs WHERE finished_ms IS NULL"); n != 1 {
			t.Errorf("after kill -9 at chunk %d: %d unfinished inputs, want 1", at, n)
		}
		db.Close()
	}
	if _, err := Merge(context.Background(), out, []string{a, b}, MergeOptions{ChunkRows: 7}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dump(t, clean), dump(t, out)) {
		t.Errorf("a merge killed twice and finished differs from one that was not")
	}
}

// mergeChild merges as the spec "chunk|out|in…" says and kills itself
// with SIGKILL inside that chunk's transaction.
func mergeChild(spec string) {
	parts := strings.Split(spec, "|")
	var at, chunks int
	fmt.Sscan(parts[0], &at)
	testHookMergeChunk = func(string) error {
		if chunks++; chunks == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	_, err := Merge(context.Background(), parts[1], parts[2:], MergeOptions{ChunkRows: 7})
	fmt.Fprintln(os.Stderr, "merge ended without being killed:", err)
	os.Exit(3)
}

// TestMergeRefuses: inputs that are not danmakud databases of this
// schema version, the output itself, and a file a collect holds are
// refused before anything is written (the output is not created), and
// the refused file is left byte for byte as it was, with no file added
// beside it.
func TestMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	writeShard(t, good, shardFile{shard: "", rooms: []int64{1}, keys: "k", t0: 1_800_000_000_000, n: 3})
	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine')"); err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	v3 := filepath.Join(dir, "v3.db")
	newV3File(t, v3, v3Rows)
	newer := filepath.Join(dir, "newer.db")
	ndb, _ := sql.Open("sqlite", "file:"+newer)
	if _, err := ndb.Exec("CREATE TABLE runs (id INTEGER); PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	ndb.Close()
	text := filepath.Join(dir, "notes.txt")
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(text, []byte("not a database at all, just some text that is long enough to fill a header ............................................"), 0o644)
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		path string
		want error
	}{{foreign, ErrNotOurs}, {v3, ErrOtherSchema}, {newer, ErrNewerSchema}, {text, ErrNotOurs}, {empty, ErrNotOurs}, {dir, ErrNotOurs}} {
		before := snapshotDir(t, dir)
		out := filepath.Join(t.TempDir(), "out.db")
		_, err := Merge(context.Background(), out, []string{good, c.path}, MergeOptions{})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: %v, want %v naming the file", filepath.Base(c.path), err, c.want)
		}
		if after := snapshotDir(t, dir); !reflect.DeepEqual(before, after) {
			t.Errorf("%s: the inputs' directory changed", filepath.Base(c.path))
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: the output was created", filepath.Base(c.path))
		}
	}
	out := filepath.Join(dir, "out.db")
	if _, err := Merge(context.Background(), out, []string{good}, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(context.Background(), out, []string{out}, MergeOptions{}); !errors.Is(err, ErrOverlap) {
		t.Errorf("merging the output into itself: %v", err)
	}
	held, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Merge(context.Background(), filepath.Join(dir, "x.db"), []string{good}, MergeOptions{})
	held.Close()
	if !errors.Is(err, ErrLocked) {
		t.Errorf("merging a file a collect holds: %v", err)
	}
}

// snapshotDir maps every file of dir to its bytes.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// TestMergeOverlap: a file already in the output through another merged
// file is refused, and so is a file that holds one the output has or
// an input before it has (before anything is written); a copy of an
// input adds nothing; stats refuse copies and a file with one it holds.
func TestMergeOverlap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeShard(t, p("s1.db"), shardFile{shard: "0/2", rooms: []int64{1}, keys: "a", t0: 1_800_000_000_000, n: 3})
	writeShard(t, p("s2.db"), shardFile{shard: "1/2", rooms: []int64{2}, keys: "b", t0: 1_800_000_000_000, n: 3})
	if _, err := Merge(ctx, p("a.db"), []string{p("s1.db")}, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ctx, p("b.db"), []string{p("a.db"), p("s2.db")}, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ctx, p("b.db"), []string{p("s1.db")}, MergeOptions{}); !errors.Is(err, ErrOverlap) || !strings.Contains(err.Error(), "a.db") {
		t.Errorf("s1 into b, which holds it through a: %v", err)
	}
	if _, err := Merge(ctx, p("c.db"), []string{p("s1.db"), p("a.db")}, MergeOptions{}); !errors.Is(err, ErrOverlap) {
		t.Errorf("s1 and a, which holds s1, into c: %v", err)
	}
	if _, err := os.Stat(p("c.db")); !os.IsNotExist(err) {
		t.Errorf("inputs that overlap one another: the output was created")
	}
	b, _ := os.ReadFile(p("s2.db"))
	os.WriteFile(p("copy.db"), b, 0o644)
	res, err := Merge(ctx, p("d.db"), []string{p("s2.db"), p("copy.db")}, MergeOptions{})
	var copied int64
	for _, n := range res.Inputs[1].Added {
		copied += n
	}
	if err != nil || copied != 0 || res.Inputs[0].Added["danmaku"] != 3 {
		t.Errorf("a copy of an input: %v %+v", err, res.Inputs)
	}
	if _, err := OpenSet(ctx, []string{p("s2.db"), p("copy.db")}); !errors.Is(err, ErrOverlap) {
		t.Errorf("stats over a file and its copy: %v", err)
	}
	if _, err := OpenSet(ctx, []string{p("s1.db"), p("b.db")}); !errors.Is(err, ErrOverlap) {
		t.Errorf("stats over a file and one that holds it: %v", err)
	}
}
