package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/storage"
)

// TestDescriptorBudget runs collect (the built binary) under an open-file
// limit of 300 (soft and hard, so the process cannot raise it) with 150
// rooms wanted: it says once that the limit fits fewer rooms, with the
// fix, watches the top-ranked ones that fit (300 less the 192 kept for
// the rest: the database, the journal, HTTP), no connection ends for
// want of descriptors and the journal drops nothing.
func TestDescriptorBudget(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := builtBinary(t)
	sim, err := livesim.New(livesim.Options{Rooms: 150, Rate: 300, Seed: 8, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "fd.db")
	cmd := exec.Command("sh", "-c", `ulimit -n 300 && ulimit -Hn 300 && exec "$0" "$@"`, bin, "collect",
		"--db", db, "--api-base", sim.URL(), "--top", "150", "--anonymous", "--duration", "14s", "--http-rate", "100",
		"--heartbeat", "1s", "--watchdog", "0", "--quiet")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("collect under a limit of 300 descriptors: %v\n%s", err, out)
	}
	msg := string(out)
	for _, want := range []string{"open-file limit (300) fits 108 of the 150 wanted rooms", "ulimit -n", "LimitNOFILE="} {
		if !strings.Contains(msg, want) {
			t.Errorf("collect does not say %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "fits 108 of the 150 wanted rooms"); n != 1 {
		t.Errorf("the limit is reported %d times, want once", n)
	}
	d, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var rooms, worst, emfile int
	d.SQL.QueryRow(`SELECT count(DISTINCT c.room_id), coalesce(max(s.rank), 0) FROM connections c
		JOIN room_snapshots s ON s.room_id = c.room_id AND s.round = 1 WHERE c.authed_ms IS NOT NULL`).Scan(&rooms, &worst)
	d.SQL.QueryRow(`SELECT count(*) FROM connections WHERE end_reason = 'descriptors' OR end_reason LIKE '%too many open files%'`).Scan(&emfile)
	t.Logf("%d rooms connected (worst rank %d), %d connections ended for want of descriptors", rooms, worst, emfile)
	if rooms < 100 || rooms > 108 || worst > 108 {
		t.Errorf("%d rooms connected, the worst ranked %d: want the top 108 (at least 100 connected in time)", rooms, worst)
	}
	if strings.Contains(msg, "DROPPED") {
		t.Errorf("the journal dropped frames:\n%s", msg)
	}
	if emfile != 0 {
		t.Errorf("%d connections ended for want of descriptors", emfile)
	}
}
