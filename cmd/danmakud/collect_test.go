package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
)

func statsJSON(t *testing.T, db string) storage.Summary {
	t.Helper()
	code, out, errs := runCLI(t, "", "stats", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errs)
	}
	var s storage.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	return s
}

func TestCollectRefusesSecondInstance(t *testing.T) {
	db := filepath.Join(t.TempDir(), "locked.db")
	first, err := storage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", "http://127.0.0.1:1", "--duration", "1s", "--lock-wait", "0")
	if code != exitLocked || !strings.Contains(errs, "in use by another collect") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestCollectBadInput(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	code, _, errs := runCLI(t, "", "collect", "--db", filepath.Join(dir, "a.db"), "--api-base", sim.URL(), "--top", "0", "--room", "424242", "--duration", "1s")
	if code != exitUsage || !strings.Contains(errs, "no such room") {
		t.Errorf("bad room: exit %d, stderr %q", code, errs)
	}
	cookie := filepath.Join(dir, "cookie")
	os.WriteFile(cookie, []byte("SESSDATA=secret-value"), 0o644)
	code, _, errs = runCLI(t, "", "collect", "--db", filepath.Join(dir, "b.db"), "--api-base", sim.URL(), "--cookie-file", cookie, "--duration", "1s")
	if code != exitUsage || !strings.Contains(errs, "chmod 600") || strings.Contains(errs, "secret-value") {
		t.Errorf("loose cookie file: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, "", "collect", "--db", filepath.Join(dir, "c.db"), "--top", "-1")
	if code != exitUsage {
		t.Errorf("--top -1: exit %d, %q", code, errs)
	}
}

// TestCollectKinds: a run with Kinds danmaku (collect --kinds) stores
// danmaku and nothing else of the events, counts the rest, and stats
// shows what was not stored; an unknown kind is a usage error naming
// the flag.
func TestCollectKinds(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 2, Rate: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "k.db")
	cfg := testrun.Config(sim.URL(), db)
	cfg.Duration = 3 * time.Second
	cfg.Kinds = []string{"danmaku"}
	testrun.Collect(t, cfg)
	s := statsJSON(t, db)
	if s.Rows["danmaku"] == 0 || s.Rows["connections"] == 0 || s.Rows["gifts"] != 0 || s.Rows["interactions"] != 0 || s.Rows["counters"] != 0 {
		t.Errorf("rows %v", s.Rows)
	}
	if s.NotStored["interact"] == 0 || s.NotStored["counter"] == 0 || s.NotStored["danmaku"] != 0 {
		t.Errorf("not stored %v", s.NotStored)
	}
	_, text, _ := runCLI(t, "", "stats", "--db", db)
	if !strings.Contains(text, "received and not stored (collect --kinds") {
		t.Errorf("stats does not say what was not stored:\n%s", text)
	}
	code, _, errs := runCLI(t, "", "collect", "--db", filepath.Join(t.TempDir(), "x.db"), "--api-base", sim.URL(), "--kinds", "danmaku,chat")
	if code != exitUsage || !strings.Contains(errs, `--kinds: unknown kind "chat"`) {
		t.Errorf("unknown kind: exit %d: %s", code, errs)
	}
}
