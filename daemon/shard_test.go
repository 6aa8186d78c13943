package daemon_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// listPath is the room list the daemon pages through.
const listPath = "/room/v1/Area/getListByAreaID"

// TestShards: four shards, each from its own source address, and one
// process on its own run side by side on one simulator (the top 120 of
// 120 live rooms, so that no room is at the list's edge, and given rooms,
// some by short id). The shards' rooms are disjoint, each the rooms
// ShardOf gives it, together the one process's; the simulator saw every
// request and connection of a run from its address only; a shard's
// listing per round is the one process's (a shard must see every rank to
// know its share of the top N): the figures are logged.
func TestShards(t *testing.T) {
	t.Parallel()
	const top = 120
	sim, err := livesim.New(livesim.Options{Rooms: top, Rate: 200, Seed: 17, LiveFor: 0, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var given []int64
	for short := range sim.ShortIDs() {
		given = append(given, short)
	}
	slices.Sort(given)
	given = append(given[:min(len(given), 6)], sim.RoomIDs()[top-1])
	dir := t.TempDir()
	// Five runs side by side; each on a goroutine of its own, so errors
	// are collected and reported here (t.Fatal only on the test's own).
	var wg sync.WaitGroup
	errs := make([]error, 5)
	run := func(i int, name string, shard roomsource.Shard, addr string) string {
		db := filepath.Join(dir, name+".db")
		cfg := testrun.Config(sim.URL(), db)
		cfg.Top, cfg.Rooms, cfg.Shard, cfg.SourceAddr = top, given, shard, netip.MustParseAddr(addr)
		cfg.Duration, cfg.Refresh, cfg.Watchdog = 8*time.Second, 300*time.Millisecond, -1
		wg.Go(func() {
			d, err := daemon.New(cfg)
			if err == nil {
				_, err = d.Run(context.Background(), nil)
			}
			errs[i] = err
		})
		return db
	}
	shardDB := make([]string, 4)
	for k := range shardDB {
		shardDB[k] = run(k, fmt.Sprint("shard-", k), roomsource.Shard{K: k, N: 4}, fmt.Sprint("127.0.0.", 10+k))
	}
	oneDB := run(4, "one", roomsource.Shard{}, "127.0.0.20")
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	want := roomsOf(t, oneDB)
	if len(want) != top {
		t.Fatalf("the process on its own watched %d rooms, want %d", len(want), top)
	}
	union := map[int64]int{}
	for k, db := range shardDB {
		for room := range roomsOf(t, db) {
			if prev, dup := union[room]; dup {
				t.Errorf("room %d watched by shards %d and %d", room, prev, k)
			}
			union[room] = k
			if roomsource.ShardOf(room, 4) != k {
				t.Errorf("shard %d watched room %d of shard %d", k, room, roomsource.ShardOf(room, 4))
			}
		}
		for room := range roomsIn(t, db, "SELECT DISTINCT room_id FROM room_snapshots UNION SELECT room_id FROM rooms") {
			if roomsource.ShardOf(room, 4) != k {
				t.Errorf("shard %d's snapshots or rooms name room %d of shard %d", k, room, roomsource.ShardOf(room, 4))
			}
		}
	}
	if !maps.Equal(keys(union), want) {
		t.Errorf("the shards watched %d rooms together, the process on its own %d: %v vs %v", len(union), len(want), keys(union), want)
	}

	ips := sim.IPStats()
	if _, ok := ips["127.0.0.1"]; ok {
		t.Errorf("the simulator saw the default source address: %+v", ips["127.0.0.1"])
	}
	one := ips["127.0.0.20"]
	oneRounds := rounds(t, oneDB)
	t.Logf("one process: %d rounds, %d listing requests, %d getDanmuInfo, %d HTTP requests, %d connections",
		oneRounds, one.Paths[listPath], one.Paths["/xlive/web-room/v1/index/getDanmuInfo"], one.HTTPRequests, one.Connections)
	const pages = (top + 29) / 30 // 30 rooms a page
	checkListing(t, "one process", one.Paths[listPath], oneRounds, pages)
	for k, db := range shardDB {
		st := ips[fmt.Sprint("127.0.0.", 10+k)]
		n := rounds(t, db)
		t.Logf("shard %d/4: %d rounds, %d listing requests, %d getDanmuInfo, %d HTTP requests, %d connections, %d rooms",
			k, n, st.Paths[listPath], st.Paths["/xlive/web-room/v1/index/getDanmuInfo"], st.HTTPRequests, st.Connections, len(roomsOf(t, db)))
		checkListing(t, fmt.Sprintf("shard %d", k), st.Paths[listPath], n, pages)
		if st.Connections == 0 || st.Connections >= one.Connections {
			t.Errorf("shard %d made %d connections, the process on its own %d", k, st.Connections, one.Connections)
		}
	}
}

// checkListing: a run of n recorded rounds sent pages listing requests a
// round — up to two more when rooms moved between pages while it read
// (repeats: one more page, then an empty one to confirm the end) — and
// at most one unrecorded round more (cut short by the end of the run).
func checkListing(t *testing.T, who string, requests int64, n, pages int) {
	t.Helper()
	if n < 1 || requests < int64(n*pages) || requests > int64((n+1)*(pages+2)) {
		t.Errorf("%s: %d listing requests in %d rounds, want %d to %d a round", who, requests, n, pages, pages+2)
	}
}

func keys(m map[int64]int) map[int64]bool {
	out := map[int64]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// roomsOf is the rooms of the database at path that had a connection.
func roomsOf(t *testing.T, path string) map[int64]bool {
	return roomsIn(t, path, "SELECT DISTINCT room_id FROM connections")
}

func roomsIn(t *testing.T, path, query string) map[int64]bool {
	t.Helper()
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.SQL.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// rounds is the number of discovery rounds the run in path recorded.
func rounds(t *testing.T, path string) int {
	t.Helper()
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL.QueryRow("SELECT COALESCE(MAX(round), 0) FROM room_snapshots").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
