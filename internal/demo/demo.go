// Package demo sets up what `danmakud demo` runs: the simulator in this
// process, a collection against it with simulated logins, and a fresh
// database for it.
package demo

import (
	"errors"
	"fmt"
	"io"
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
	opts   Options
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
	d := &Demo{Sim: sim, opts: o, Config: daemon.Config{DB: o.DB, Top: o.Rooms, Duration: o.Duration,
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

// WriteIntro writes what the demo is about to do (`danmakud demo`'s
// first line): the simulator's rooms and address, the simulated logins
// or an anonymous run and what to expect of it, how long and into which
// file.
func (d *Demo) WriteIntro(w io.Writer) {
	o := d.opts
	if o.Anonymous {
		fmt.Fprintf(w, "demo: simulator with %d rooms at %s; collecting ANONYMOUSLY for %s into %s (expect about one message in ten) …\n", o.Rooms, d.Sim.URL(), o.Duration, o.DB)
		return
	}
	fmt.Fprintf(w, "demo: simulator with %d rooms at %s; logged in with %d simulated accounts (%d rooms each); collecting for %s into %s …\n",
		o.Rooms, d.Sim.URL(), len(d.Config.Accounts), collector.DefaultRoomsPerAccount, o.Duration, o.DB)
}

// WriteQuery writes what to try once the demo has collected: a first
// query of its database with sqlite3, and the stats command for those
// without it.
func (d *Demo) WriteQuery(w io.Writer) {
	fmt.Fprintf(w, `
A first query to try (danmaku per minute per room over the run, busiest first):

  sqlite3 %s "SELECT room_id, count(*) AS danmaku,
                round(count(*) * 60000.0 / ((SELECT max(ended_ms) - min(started_ms) FROM runs)), 1) AS per_min
              FROM danmaku GROUP BY room_id ORDER BY danmaku DESC LIMIT 5"

or, without sqlite3:  danmakud stats --db %s --json
`, d.opts.DB, d.opts.DB)
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
