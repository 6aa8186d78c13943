package daemon_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
)

// TestRotation: --db with strftime fields and a boundary every 3 s
// (Tuning.RotateEvery: the test mode) while traffic flows: several files;
// each stands on its own (its run ended ok, its rooms, its connections);
// summed over the files, what was stored equals what the simulator
// delivered, per room and kind, and no danmaku is in two files.
func TestRotation(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 5, Rate: 500, Seed: 17, Tick: 50 * time.Millisecond, TrafficFor: 9 * time.Second,
		HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	cfg := testrun.Config(sim.URL(), filepath.Join(dir, "r-%H%M%S.db"))
	cfg.Top, cfg.Duration, cfg.Tuning.RotateEvery = 5, 12*time.Second, 3*time.Second
	res := testrun.Collect(t, cfg)
	if !sim.Idle() {
		t.Fatal("the simulator still had traffic queued when collect ended")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "r-*.db"))
	if len(files) < 3 {
		t.Fatalf("%d files for 12 s at a boundary every 3 s: %v", len(files), files)
	}
	if res.DB != files[len(files)-1] {
		t.Errorf("the run ended in %s, the last file is %s", res.DB, files[len(files)-1])
	}
	stored := map[string]map[string]int64{}
	keys := map[string]string{} // danmaku key → file
	for _, f := range files {
		s := testkit.Summary(t, f)
		if s.Runs != 1 || s.Rows["rooms"] == 0 || s.Rows["connections"] == 0 {
			t.Errorf("%s does not stand on its own: %d runs, %d rooms, %d connections", f, s.Runs, s.Rows["rooms"], s.Rows["connections"])
		}
		for room, rs := range s.Rooms {
			if stored[room] == nil {
				stored[room] = map[string]int64{}
			}
			for k, n := range rs.Kinds {
				stored[room][k] += n
			}
		}
		db, err := storage.OpenReadOnly(f)
		if err != nil {
			t.Fatal(err)
		}
		var status string
		var open int
		db.SQL.QueryRow("SELECT exit_status FROM runs").Scan(&status)
		db.SQL.QueryRow("SELECT count(*) FROM connections WHERE ended_ms IS NULL").Scan(&open)
		if status != "ok" || open != 0 {
			t.Errorf("%s: run ended %q, %d connections without an end", f, status, open)
		}
		rows, err := db.SQL.Query("SELECT room_id, id_str FROM danmaku")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var room int64
			var id string
			rows.Scan(&room, &id)
			k := strconv.FormatInt(room, 10) + "/" + id
			if other, dup := keys[k]; dup {
				t.Errorf("danmaku %s stored in %s and %s", k, other, f)
			}
			keys[k] = f
		}
		rows.Close()
		db.Close()
	}
	truth := sim.Truth()
	for room, kinds := range truth.Rooms {
		for k, n := range kinds {
			if stored[room][k] != n {
				t.Errorf("room %s %s: stored %d over the files, simulator delivered %d", room, k, stored[room][k], n)
			}
		}
	}
	t.Logf("%d files, %d danmaku", len(files), len(keys))
}
