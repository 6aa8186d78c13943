package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logged is a slog handler that hands each record's message and attrs
// to a channel.
type logged chan map[string]string

func (l logged) Enabled(context.Context, slog.Level) bool { return true }
func (l logged) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logged) WithGroup(string) slog.Handler            { return l }
func (l logged) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	l <- m
	return nil
}

// TestWatchStop: a run that has not returned some time after it was
// told to stop leaves every goroutine's stack beside the database and
// says where; a run that returns in time leaves nothing.
func TestWatchStop(t *testing.T) {
	dir := t.TempDir()
	logs := make(logged, 4)
	d := &Daemon{cfg: Config{Logger: slog.New(logs)}, files: dbFiles{pattern: filepath.Join(dir, "d-%Y%m%d.db")}}

	ctx, stop := context.WithCancel(context.Background())
	done := d.watchStop(ctx, 10*time.Millisecond)
	defer done()
	stop() // and never return
	var m map[string]string
	select {
	case m = <-logs:
	case <-time.After(time.Minute):
		t.Fatal("no word of a stuck stop")
	}
	if !strings.Contains(m["msg"], "has not stopped") || !strings.HasPrefix(m["file"], filepath.Join(dir, "d-Ymd.db.stuck-")) {
		t.Fatalf("logged %v", m)
	}
	b, err := os.ReadFile(m["file"])
	if err != nil || !strings.Contains(string(b), "TestWatchStop") {
		t.Fatalf("the dump (%d bytes, %v) does not show this test's goroutine", len(b), err)
	}

	// In time: done before the timer.
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := d.watchStop(ctx2, time.Hour)
	stop2()
	done2()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.stuck-*")); len(files) != 1 {
		t.Errorf("stuck dumps: %v; want only the first run's", files)
	}
	select {
	case m := <-logs:
		t.Errorf("a run that returned logged %v", m)
	default:
	}
}
