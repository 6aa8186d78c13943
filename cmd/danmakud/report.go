package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var dbs []string
	var out string
	cmd := &cobra.Command{
		Use:   "report [--db FILE]... [FILE...] [-o report.html]",
		Short: "Write an HTML report of one or more databases: time line, events per minute, top rooms, coverage, revenue",
		Long: `Report reads one or more databases (read-only: a running collect may be
writing them) as one data set and writes a single self-contained HTML file
(inline CSS and SVG charts, nothing fetched from the network): the collection
time line with its gaps, events per minute of each kind, the top rooms,
coverage per room with its interval, revenue by kind in CNY, danmaku per hour of
the Bilibili day (UTC+8), and the share of anonymous and sampled connections.
Several files (e.g. one per day) are added up.`,
		Example: `  danmakud report --db danmakud.db -o report.html
  danmakud report --db data/*.db -o week.html     # several files as one`,
		RunE: func(cmd *cobra.Command, args []string) error {
			values := append(append([]string(nil), dbs...), args...)
			if len(values) == 0 {
				values = []string{"danmakud.db"}
			}
			files, err := storage.ExpandPaths(values)
			if err != nil {
				return &exitError{exitFailure, fmt.Errorf("--db: %w", err)}
			}
			if out == "" {
				return &exitError{exitUsage, errors.New("-o: an output file is needed")}
			}
			if err := report.WriteFile(cmd.Context(), files, out, time.Now()); err != nil {
				return &exitError{exitFailure, err}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&dbs, "db", nil, dbFlagHelp+" (further files may follow as arguments; default danmakud.db)")
	cmd.Flags().StringVarP(&out, "output", "o", "report.html", "the HTML file to write")
	return cmd
}
