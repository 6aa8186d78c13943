package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/storage"
)

// TestCollectBackToBack: a run started while the previous run on the same
// file still holds it (as the next hour's cron or timer run does) waits
// for it (--lock-wait) instead of exiting 4, and starts after the previous
// run has recorded its end.
func TestCollectBackToBack(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "b2b.db")
	collect := func(duration string) <-chan string {
		done := make(chan string, 1)
		go func() {
			code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", sim.URL(), "--top", "3",
				"--duration", duration, "--lock-wait", "1m", "--quiet")
			if code != 0 {
				done <- errs
			}
			close(done)
		}()
		return done
	}
	first := collect("2s")
	// The first run holds the file once its run row exists.
	testkit.Poll(t, 30*time.Second, "the first run's run row", func() bool {
		select {
		case errs, ok := <-first:
			t.Fatalf("first run ended before the second started (ok %v): %s", ok, errs)
		default:
		}
		ro, err := storage.OpenReadOnly(db)
		if err != nil {
			return false
		}
		defer ro.Close()
		var n int
		return ro.SQL.QueryRow("SELECT count(*) FROM runs WHERE ended_ms IS NULL").Scan(&n) == nil && n == 1
	})
	second := collect("1s")
	for name, ch := range map[string]<-chan string{"first": first, "second": second} {
		if errs, failed := <-ch; failed {
			t.Errorf("%s run failed: %s", name, errs)
		}
	}
	ro, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var firstEnd, secondStart int64
	var statuses string
	err = ro.SQL.QueryRow(`SELECT (SELECT ended_ms FROM runs WHERE id = 1), (SELECT started_ms FROM runs WHERE id = 2),
		(SELECT group_concat(exit_status) FROM runs)`).Scan(&firstEnd, &secondStart, &statuses)
	if err != nil || statuses != "ok,ok" || secondStart < firstEnd {
		t.Errorf("runs: first ended %d, second started %d, statuses %q, %v", firstEnd, secondStart, statuses, err)
	}
	t.Logf("the second run started %d ms after the first ended", secondStart-firstEnd)
}
