package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/danmakud/danmakud/internal/demo"
	"github.com/danmakud/danmakud/internal/progress"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/report"
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
				if err := demo.Reset(dbPath); err != nil {
					return &exitError{exitUsage, fmt.Errorf("--db %w", err)}
				}
			}
			d, err := demo.Start(demo.Options{DB: dbPath, Rooms: rooms, Duration: dur, Anonymous: anonymous, Version: version,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))})
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer d.Close()
			d.WriteIntro(out)
			if err := runDaemon(ctx, hard, d.Config, cmd.ErrOrStderr(), progress.IsTerminal(cmd.ErrOrStderr())); err != nil {
				return err
			}
			s, _, err := summarize(context.Background(), []string{dbPath})
			if err != nil {
				return err
			}
			report.WriteStats(out, []string{dbPath}, s)
			d.WriteQuery(out)
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
