package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/storage"
)

func TestReset(t *testing.T) {
	dir := t.TempDir()
	if err := Reset(filepath.Join(dir, "missing.db")); err != nil {
		t.Errorf("missing file: %v", err)
	}
	// A danmakud database goes, with its side files.
	path := filepath.Join(dir, "demo.db")
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(path+"-shm", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Reset(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	// Anything else stays as it was.
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("my thesis draft\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Reset(notes); err == nil || !strings.HasPrefix(err.Error(), notes+" exists and is not a danmakud database") {
		t.Errorf("foreign file: %v", err)
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "my thesis draft\n" {
		t.Errorf("the foreign file changed: %q %v", b, err)
	}
}

func TestStart(t *testing.T) {
	for _, c := range []struct {
		rooms     int
		anonymous bool
		accounts  int
	}{{11, false, 3}, {5, false, 1}, {11, true, 0}} {
		d, err := Start(Options{DB: "x.db", Rooms: c.rooms, Duration: time.Second, Anonymous: c.anonymous})
		if err != nil {
			t.Fatal(err)
		}
		cfg := d.Config
		if len(cfg.Accounts) != c.accounts || cfg.Top != c.rooms || cfg.APIBase != d.Sim.URL() || cfg.DB != "x.db" {
			t.Errorf("%+v: %d accounts, top %d, API %q", c, len(cfg.Accounts), cfg.Top, cfg.APIBase)
		}
		if len(d.Sim.RoomIDs()) != c.rooms {
			t.Errorf("%+v: %d simulated rooms", c, len(d.Sim.RoomIDs()))
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
	if _, err := Start(Options{Rooms: 0, Duration: time.Second}); err == nil {
		t.Error("no rooms accepted")
	}
}

// TestWriteIntroAndQuery: the first line says how the demo collects (the
// logins, or the anonymous sample) and where; the query names the file.
func TestWriteIntroAndQuery(t *testing.T) {
	for _, c := range []struct {
		anonymous bool
		want      string
	}{
		{false, "; logged in with 3 simulated accounts (5 rooms each); collecting for 2s into x.db …\n"},
		{true, "; collecting ANONYMOUSLY for 2s into x.db (expect about one message in ten) …\n"},
	} {
		d, err := Start(Options{DB: "x.db", Rooms: 11, Duration: 2 * time.Second, Anonymous: c.anonymous})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		d.WriteIntro(&b)
		if prefix := "demo: simulator with 11 rooms at " + d.Sim.URL(); !strings.HasPrefix(b.String(), prefix) || !strings.HasSuffix(b.String(), c.want) {
			t.Errorf("intro %q, want %q … %q", b.String(), prefix, c.want)
		}
		b.Reset()
		d.WriteQuery(&b)
		if !strings.Contains(b.String(), "sqlite3 x.db \"SELECT room_id") || !strings.Contains(b.String(), "danmakud stats --db x.db --json") {
			t.Errorf("query:\n%s", b.String())
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
}
