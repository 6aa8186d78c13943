package main

import (
	"context"
	"encoding/json"

	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newStatsCmd() *cobra.Command {
	var dbPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use: "stats [--db FILE] [--json]",
		Example: `  danmakud stats --db danmakud.db
  danmakud stats --db danmakud.db --json | jq '.coverage'          # estimated coverage per room (null: too few samples)
  danmakud stats --db danmakud.db --json | jq '.rooms["21452505"]'  # one room's stored events per kind`,
		Short: "Summarize a database: rows per kind, rooms, time span, coverage, reconnects, unknown commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := summarize(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(s)
			}
			report.WriteStats(cmd.OutOrStdout(), dbPath, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "danmakud.db", "SQLite database file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (includes rooms: per room, per kind, distinct stored events)")
	return cmd
}

// summarize reads the summary of the database at path (read-only).
func summarize(ctx context.Context, path string) (*storage.Summary, error) {
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		return nil, &exitError{exitFailure, err}
	}
	defer db.Close()
	s, err := db.Summarize(ctx)
	if err != nil {
		return nil, &exitError{exitFailure, db.Explain(err)}
	}
	return s, nil
}
