package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/storage"
)

// TestCollectStartupFailures: an unreachable API and a 412 at start end
// collect with exit 1 within --duration (no retrying forever), the 412
// case saying when to try again; a database held by another collect is
// named in the refusal (exit 4). The run rows say why they ended.
func TestCollectStartupFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sim, err := livesim.New(livesim.Options{Rooms: 2, Seed: 41})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	faults := testkit.NewAPIFaults(t, sim.URL())
	faults.Storm.Store(true)
	for _, c := range []struct {
		name, base string
		want       []string
	}{
		{"unreachable", "http://127.0.0.1:1", []string{"cannot reach the Bilibili API"}},
		{"412", faults.URL, []string{"cannot reach the Bilibili API", "rate-limiting this address (412): try again after"}},
	} {
		db := filepath.Join(dir, c.name+".db")
		start := time.Now()
		code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", c.base, "--duration", "3s", "--anonymous", "--quiet")
		if code != exitFailure {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, exitFailure, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: stderr does not say %q: %s", c.name, w, errs)
			}
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("%s: gave up after %v with --duration 3s", c.name, took)
		}
		f := testkit.ReadFacts(t, db)
		if f.Runs != 1 || f.Unended != 0 {
			t.Errorf("%s: runs %+v", c.name, f)
		}
	}
	// Another collect holds the file: the refusal names it.
	db := filepath.Join(dir, "held.db")
	held, err := storage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", sim.URL(), "--duration", "1s", "--lock-wait", "0", "--anonymous")
	if code != exitLocked || !strings.Contains(errs, db) || strings.Contains(errs, ".lock") {
		t.Errorf("held database: exit %d, stderr %q (want exit %d naming %s, no .lock file)", code, errs, exitLocked, db)
	}
}
