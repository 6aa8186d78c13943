package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
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

// TestFullDisk: the database on a 1 MiB filesystem fills up. collect keeps
// the unwritten records in memory up to the writer's bound, then exits 1
// with an error naming the file and the cause and saying how many records
// were not written; the file passes integrity_check; after the
// filesystem grows, the next run appends to the same file.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	dir := smallFS(t, "1m")
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 3000, Tick: 20 * time.Millisecond, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(dir, "full.db")
	o := testCollect(t, sim.URL(), db)
	o.top, o.duration, o.anonymous, o.watchdog = 3, 20*time.Second, true, 0
	o.flushInterval, o.pendingMax = 200*time.Millisecond, 2000
	var logs strings.Builder
	o.stderr, o.quiet = &logs, false
	start := time.Now()
	err = o.run(context.Background(), "full disk")
	took := time.Since(start)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Fatalf("collect on a full disk: %v, want exit %d", err, exitFailure)
	}
	msg := err.Error()
	t.Logf("after %v: %s\n%s", took.Round(time.Millisecond), msg, logs.String())
	for _, want := range []string{db, "disk is full", "records held in memory reached the bound (2000)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q", want)
		}
	}
	if took > 19*time.Second { // before --duration (20s) ended the run
		t.Errorf("collect ran %v on a full disk: it did not stop at the bound", took)
	}
	if !strings.Contains(logs.String(), "flush failed") {
		t.Errorf("no flush failure logged:\n%s", logs.String())
	}
	f := readFacts(t, db)
	if f.integrity != "ok" || f.runs != 1 {
		t.Fatalf("after the full disk: %+v", f)
	}
	// Space returns: the next run continues the file.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatalf("remount larger: %v", err)
	}
	o2 := testCollect(t, sim.URL(), db)
	o2.top, o2.duration, o2.anonymous, o2.watchdog, o2.stderr = 3, 2*time.Second, true, 0, io.Discard
	if err := o2.run(context.Background(), "space back"); err != nil {
		t.Fatalf("collect after space returned: %v", err)
	}
	g := readFacts(t, db)
	if g.integrity != "ok" || g.runs != 2 || g.danmaku <= f.danmaku || g.unended != 0 {
		t.Errorf("after space returned: %+v (before %+v)", g, f)
	}
	t.Logf("full disk: %d danmaku kept, exit 1; after space returned: %d danmaku, runs %d", f.danmaku, g.danmaku, g.runs)
}
