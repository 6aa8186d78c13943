package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newStatsCmd() *cobra.Command {
	var dbPaths []string
	var asJSON bool
	cmd := &cobra.Command{
		Use: "stats [--db FILE]... [--json]",
		Example: `  danmakud stats --db danmakud.db
  danmakud stats --db 'data/shard-*.db'                            # several files as one dataset
  danmakud stats --db danmakud.db --json | jq '.coverage'          # estimated coverage per room (null: too few samples)
  danmakud stats --db danmakud.db --json | jq '.rooms["21452505"]'  # one room's stored events per kind`,
		Short: "Summarize a database: rows per kind, rooms, time span, coverage, reconnects, unknown commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, paths, err := summarize(cmd.Context(), dbPaths)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(s)
			}
			report.WriteStats(cmd.OutOrStdout(), paths, s)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&dbPaths, "db", []string{"danmakud.db"}, dbFlagHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (includes rooms: per room, per kind, distinct stored events)")
	return cmd
}

// dbFlagHelp is the help of --db where it takes several files.
const dbFlagHelp = "SQLite database file, or a glob ('data/*.db'); repeatable: the files are read as one dataset"

// summarize reads the summary of the database files or globs in values
// (read-only) as one dataset, and returns the files it read.
func summarize(ctx context.Context, values []string) (*storage.Summary, []string, error) {
	paths, err := storage.ExpandPaths(values)
	if err != nil {
		return nil, nil, &exitError{exitFailure, fmt.Errorf("--db: %w", err)}
	}
	set, err := storage.OpenSet(ctx, paths)
	if err != nil {
		return nil, nil, &exitError{exitFailure, err}
	}
	defer set.Close()
	s, err := set.Summarize(ctx)
	if err != nil {
		return nil, nil, &exitError{exitFailure, err}
	}
	return s, paths, nil
}
