package daemon_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
)

// smallFS mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it at cleanup; it skips the test when that is not possible
// (not root, no mount permission).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("full-disk test: needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("full-disk test: cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestFullDisk: the database and its frame journal on a 1 MiB filesystem
// fill it up. The run fails — when the journal's writes have failed for
// a few seconds, or at its end when the final flush cannot be written
// within its timeout (what was read stays in the journal meanwhile) —
// with an error naming the file and the cause; the file passes
// integrity_check; after the filesystem grows, the next run appends to
// the same file (and stores first what the journal kept).
func TestFullDisk(t *testing.T) {
	t.Parallel()
	dir := smallFS(t, "1m")
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 3000, Tick: 20 * time.Millisecond, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(dir, "full.db")
	cfg := testrun.Config(sim.URL(), db)
	cfg.Top, cfg.Duration, cfg.Watchdog, cfg.FinalFlushTimeout = 3, 15*time.Second, -1, 5*time.Second
	cfg.FlushInterval, cfg.Tuning.PendingMax = 200*time.Millisecond, 2000
	var logs strings.Builder
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Run(context.Background(), nil)
	took := time.Since(start)
	if err == nil || daemon.KindOf(err) != daemon.Failure {
		t.Fatalf("collect on a full disk: %v, want a failure", err)
	}
	msg := err.Error()
	t.Logf("after %v: %s\n%s", took.Round(time.Millisecond), msg, logs.String())
	if !strings.Contains(msg, db) || !(strings.Contains(msg, "disk is full") || strings.Contains(msg, "no space left on device")) {
		t.Errorf("the error does not name %s and say the disk is full", db)
	}
	if took > 25*time.Second { // --duration 15s, the final flush 5s and slack
		t.Errorf("collect ran %v on a full disk: it did not give up", took)
	}
	if !strings.Contains(logs.String(), "flush failed") {
		t.Errorf("no flush failure logged:\n%s", logs.String())
	}
	f := testkit.ReadFacts(t, db)
	if f.Integrity != "ok" || f.Runs != 1 {
		t.Fatalf("after the full disk: %+v", f)
	}
	// Space returns: the next run continues the file.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatalf("remount larger: %v", err)
	}
	cfg2 := testrun.Config(sim.URL(), db)
	cfg2.Top, cfg2.Duration, cfg2.Watchdog = 3, 2*time.Second, -1
	testrun.Collect(t, cfg2)
	g := testkit.ReadFacts(t, db)
	if g.Integrity != "ok" || g.Runs != 2 || g.Danmaku <= f.Danmaku || g.Unended != 0 {
		t.Errorf("after space returned: %+v (before %+v)", g, f)
	}
	t.Logf("full disk: %d danmaku kept, exit 1; after space returned: %d danmaku, runs %d", f.Danmaku, g.Danmaku, g.Runs)
}
