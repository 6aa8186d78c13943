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
