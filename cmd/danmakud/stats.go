package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newStatsCmd() *cobra.Command {
	var dbPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats [--db FILE] [--json]",
		Short: "Summarize a database: rows per kind, rooms, time span, coverage, reconnects, unknown commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := storage.OpenReadOnly(dbPath)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			defer db.Close()
			s, err := db.Summarize(cmd.Context())
			if err != nil {
				return &exitError{exitFailure, err}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(s)
			}
			printSummary(cmd.OutOrStdout(), dbPath, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "danmakud.db", "SQLite database file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (includes rooms: per room, per kind, distinct stored events)")
	return cmd
}

func printSummary(w io.Writer, path string, s *storage.Summary) {
	fmt.Fprintf(w, "%s: %d run(s)\n", path, s.Runs)
	if s.FirstMs > 0 {
		first, last := time.UnixMilli(s.FirstMs), time.UnixMilli(s.LastMs)
		fmt.Fprintf(w, "events received %s … %s (%s)\n", first.Format(time.DateTime), last.Format(time.DateTime), last.Sub(first).Round(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\t")
	for _, t := range []string{"danmaku", "gifts", "super_chats", "guards", "interactions", "counters", "room_events", "combos", "connections", "room_snapshots", "rooms", "malformed"} {
		fmt.Fprintf(tw, "%s\t%d\t\n", t, s.Rows[t])
	}
	tw.Flush()
	fmt.Fprintf(w, "rooms with connections: %d, reconnects: %d\n", s.RoomsSeen, s.Reconnects)
	if len(s.Coverage) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "room_id\tconnections\tconnected\tcoverage\tstarved\tstalled\tbad frames\t")
		for i, c := range s.Coverage {
			if i == 20 {
				fmt.Fprintf(tw, "… %d more rooms (--json lists all)\t\t\t\t\t\t\t\n", len(s.Coverage)-20)
				break
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.1f%%\t%d\t%d\t%d\t\n", c.RoomID, c.Connections,
				(time.Duration(c.Connected) * time.Second).String(), 100*c.Coverage, c.Starved, c.Stalled, c.BadFrames)
		}
		tw.Flush()
	}
	if len(s.Unknown) > 0 {
		fmt.Fprintf(w, "commands without a typed table (kept in unknown_commands with a sample):")
		for i, u := range s.Unknown {
			if i == 10 {
				fmt.Fprintf(w, " …")
				break
			}
			fmt.Fprintf(w, " %s×%d", u.Cmd, u.Count)
		}
		fmt.Fprintln(w)
	}
}
