package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var dbPath string
	var dur time.Duration
	var rooms int
	var anonymous, appendDB bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run collect against the built-in simulator (~20 rooms, ~30 s) and show the result",
		Long: `Demo starts the simulator in this process, runs collect against it for --duration
into --db, then prints the stats and a first query to try. Nothing leaves the
machine.

The simulator behaves as Bilibili does in 2026: an anonymous connection gets
about one message in ten. The demo therefore logs in with simulated accounts
(one per 5 rooms, as collect's default budget) and shows the full stream;
--anonymous shows what an anonymous run gets.

--db starts from a fresh file (an existing danmakud database there is
replaced) unless --append.`,
		Example: `  danmakud demo
  danmakud demo --anonymous --db anon.db      # the ~10 % sample a guest gets
  danmakud demo --duration 2m --rooms 50 --append`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, hard, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			out := cmd.OutOrStdout()
			if rooms <= 0 || dur <= 0 {
				return &exitError{exitUsage, fmt.Errorf("--rooms and --duration must be > 0")}
			}
			if !appendDB {
				if err := removeDemoDB(dbPath); err != nil {
					return &exitError{exitUsage, err}
				}
			}
			accounts := 0
			if !anonymous {
				accounts = (rooms + collector.DefaultRoomsPerAccount - 1) / collector.DefaultRoomsPerAccount
			}
			sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: 300, AnonKeep: 0.1, Accounts: accounts})
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer sim.Close()
			cfg := daemon.Config{DB: dbPath, Top: rooms, Duration: dur, FlushInterval: 2 * time.Second, Refresh: time.Minute,
				APIBase: sim.URL(), HTTPRate: 10, Watchdog: 3 * time.Second, Args: "demo", Version: version,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError})),
				Tuning: daemon.Tuning{Spread: 2 * time.Second}}
			if anonymous {
				fmt.Fprintf(out, "demo: simulator with %d rooms at %s; collecting ANONYMOUSLY for %s into %s (expect about one message in ten) …\n", rooms, sim.URL(), dur, dbPath)
			} else {
				for i := 1; i <= accounts; i++ {
					a, err := roomsource.NewAccount(fmt.Sprintf("simulated account %d", i), sim.AccountCookies(i))
					if err != nil {
						return &exitError{exitFailure, err}
					}
					cfg.Accounts = append(cfg.Accounts, a)
				}
				fmt.Fprintf(out, "demo: simulator with %d rooms at %s; logged in with %d simulated accounts (5 rooms each); collecting for %s into %s …\n",
					rooms, sim.URL(), accounts, dur, dbPath)
			}
			if err := runDaemon(ctx, hard, cfg, cmd.ErrOrStderr(), isTerminal(os.Stderr)); err != nil {
				return err
			}
			db, err := storage.OpenReadOnly(dbPath)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer db.Close()
			s, err := db.Summarize(context.Background())
			if err != nil {
				return &exitError{exitFailure, db.Explain(err)}
			}
			printSummary(out, dbPath, s)
			fmt.Fprintf(out, `
A first query to try (danmaku per minute per room over the run, busiest first):

  sqlite3 %s "SELECT room_id, count(*) AS danmaku,
                round(count(*) * 60000.0 / ((SELECT max(ended_ms) - min(started_ms) FROM runs)), 1) AS per_min
              FROM danmaku GROUP BY room_id ORDER BY danmaku DESC LIMIT 5"

or, without sqlite3:  danmakud stats --db %s --json
`, dbPath, dbPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "demo.db", "SQLite database file")
	cmd.Flags().DurationVar(&dur, "duration", 30*time.Second, "how long to collect")
	cmd.Flags().IntVar(&rooms, "rooms", 20, "simulated rooms")
	cmd.Flags().BoolVar(&anonymous, "anonymous", false, "collect without logging in (shows the sample Bilibili sends guests)")
	cmd.Flags().BoolVar(&appendDB, "append", false, "add to an existing --db instead of starting a fresh one")
	return cmd
}

// removeDemoDB removes a previous demo database (and its WAL files) so
// the demo starts fresh. It refuses a file that is not a danmakud
// database: never delete what is not ours.
func removeDemoDB(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		return fmt.Errorf("--db %s exists and is not a danmakud database; not replacing it (%v)", path, err)
	}
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--db %s: %w", path, err)
		}
	}
	return nil
}
