// Package demo sets up what `danmakud demo` runs: the simulator in this
// process, a collection against it with simulated logins, and a fresh
// database for it.
package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// Options describe a demo.
type Options struct {
	DB       string        // the database file
	Rooms    int           // simulated rooms, all watched; > 0
	Duration time.Duration // how long to collect; > 0
	// Anonymous collects without logging in: the ~10 % sample Bilibili
	// (and the simulator) sends a guest.
	Anonymous bool
	Logger    *slog.Logger // the collection's log (nil discards)
	Version   string       // recorded in the runs table
}

// Demo is a running simulator and the collection configured against it.
type Demo struct {
	Sim *livesim.Sim
	// Config runs the demo's collection (daemon.New); its Accounts are
	// the simulated logins.
	Config daemon.Config
}

// Start starts the simulator: o.Rooms rooms at 300 messages a second in
// all, anonymous connections sampled at one command in ten as on the
// real service, and unless o.Anonymous one account per
// collector.DefaultRoomsPerAccount rooms, logged in (collect's default
// budget, so that every room gets its whole stream). Close the Demo when
// done.
func Start(o Options) (*Demo, error) {
	if o.Rooms <= 0 || o.Duration <= 0 {
		return nil, errors.New("demo: Rooms and Duration must be > 0")
	}
	accounts := 0
	if !o.Anonymous {
		accounts = (o.Rooms + collector.DefaultRoomsPerAccount - 1) / collector.DefaultRoomsPerAccount
	}
	sim, err := livesim.New(livesim.Options{Rooms: o.Rooms, Rate: 300, AnonKeep: 0.1, Accounts: accounts})
	if err != nil {
		return nil, err
	}
	d := &Demo{Sim: sim, Config: daemon.Config{DB: o.DB, Top: o.Rooms, Duration: o.Duration,
		FlushInterval: 2 * time.Second, Refresh: time.Minute, APIBase: sim.URL(), HTTPRate: 10,
		Watchdog: 3 * time.Second, Args: "demo", Version: o.Version, Logger: o.Logger,
		Tuning: daemon.Tuning{Spread: 2 * time.Second}}}
	for i := 1; i <= accounts; i++ {
		a, err := roomsource.NewAccount(fmt.Sprintf("simulated account %d", i), sim.AccountCookies(i))
		if err != nil {
			sim.Close()
			return nil, err
		}
		d.Config.Accounts = append(d.Config.Accounts, a)
	}
	return d, nil
}

// Close stops the simulator.
func (d *Demo) Close() error { return d.Sim.Close() }

// Reset removes the danmakud database at path, with its -wal and -shm
// files and its frame journal (daemon.JournalDir), so that a demo starts
// from nothing; a missing file is fine. It
// refuses a file that is not a danmakud database (never delete what is
// not ours). Its errors start with path.
func Reset(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		return fmt.Errorf("%s exists and is not a danmakud database; not replacing it (%v)", path, err)
	}
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := os.RemoveAll(daemon.JournalDir(path)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
