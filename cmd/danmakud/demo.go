package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var dbPath string
	var dur time.Duration
	var rooms int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run collect against the built-in simulator (~20 rooms, ~30 s) and show the result",
		Long: `Demo starts the simulator in this process, runs collect against it for --duration
into --db, then prints the stats and a first query to try. Nothing leaves the
machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, hard := signalContexts(cmd.Context())
			defer hard()
			out := cmd.OutOrStdout()
			sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: 300})
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer sim.Close()
			fmt.Fprintf(out, "demo: simulator with %d rooms at %s; collecting for %s into %s …\n", rooms, sim.URL(), dur, dbPath)
			o := collectOptions{top: rooms, db: dbPath, duration: dur, flushInterval: 2 * time.Second, refresh: time.Minute,
				apiBase: sim.URL(), httpRate: 10, heartbeat: 30 * time.Second, watchdog: 20 * time.Second,
				finalFlush: time.Minute, stdout: out, stderr: cmd.ErrOrStderr(), progress: isTerminal(os.Stderr),
				quiet: true, spread: 2 * time.Second}
			if err := o.run(ctx, "demo"); err != nil {
				return err
			}
			db, err := storage.OpenReadOnly(dbPath)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer db.Close()
			s, err := db.Summarize(context.Background())
			if err != nil {
				return &exitError{exitFailure, err}
			}
			printSummary(out, dbPath, s)
			fmt.Fprintf(out, `
A first query to try (the busiest rooms by danmaku per minute):

  sqlite3 %s "SELECT room_id, count(*) AS danmaku, round(count(*) * 60000.0 / (max(recv_ms) - min(recv_ms) + 1), 1) AS per_min
              FROM danmaku GROUP BY room_id ORDER BY danmaku DESC LIMIT 5"

or, without sqlite3:  go run ./cmd/danmakud stats --db %s --json
`, dbPath, dbPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "demo.db", "SQLite database file")
	cmd.Flags().DurationVar(&dur, "duration", 30*time.Second, "how long to collect")
	cmd.Flags().IntVar(&rooms, "rooms", 20, "simulated rooms")
	return cmd
}
