package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/danmakud/danmakud/export"
	"github.com/danmakud/danmakud/internal/progress"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/internal/textwrap"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// exportOptions are the export command's flags.
type exportOptions struct {
	dbs       []string
	format    string
	partition string
	rooms     []int64
	kinds     []string
	since     string
	until     string
	out       string
	quiet     bool
	// progressEvery prints a progress line every this many rows when
	// stderr is not a terminal (0 = never); on a terminal one line is
	// redrawn about 5 times a second.
	progressEvery int64

	stdout, stderr io.Writer
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --db FILE... --format " + formatNames("|") + " [--partition day] [--room ID]... [--kind K]... [--since T] [--until T] [-o FILE|DIR]",
		Short: "Write stored events as JSON lines, CSV, BililiveRecorder danmaku XML or Parquet",
		Long:  exportLong(),
		Example: `  # everything as JSON lines
  danmakud export --db danmakud.db --format jsonl -o events.jsonl
  # one room's danmaku of one Bilibili day as CSV into ./out
  danmakud export --db danmakud.db --format csv --kind danmaku --room 21452505 \
      --since "2026-11-27" --until "2026-11-28" -o out
  # danmaku XML per live session, for DanmakuFactory
  danmakud export --db danmakud.db --format xml --room 21452505 -o xml/
  # Parquet for pandas / DuckDB
  danmakud export --db danmakud.db --format parquet -o parquet/
  # a month of shard files as Parquet segments per day, one table for DuckDB:
  #   read_parquet('segments/danmaku/**/*.parquet', hive_partitioning=true)
  danmakud export --db 'data/*.db' --format parquet --partition day -o segments/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			// A signal stops the export; the unfinished file is removed.
			ctx, _, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			return o.run(ctx)
		},
	}
	files, dirs := formatsByOutput()
	f := cmd.Flags()
	f.StringArrayVar(&o.dbs, "db", []string{"danmakud.db"}, dbFlagHelp)
	f.StringVar(&o.format, "format", "", orList(formatNames(", "))+" (required)")
	f.StringVar(&o.partition, "partition", "", "with parquet: 'day' writes DIR/<table>/day=YYYY-MM-DD/part-*.parquet (Hive layout; the Bilibili day, UTC+8, of the receive time)")
	f.Int64SliceVar(&o.rooms, "room", nil, "only this real room id (repeatable)")
	f.StringSliceVar(&o.kinds, "kind", nil, "only this kind or table (repeatable)")
	f.StringVar(&o.since, "since", "", "only events received at or after this time (RFC 3339, '2006-01-02 15:04:05' in UTC+8, or unix ms)")
	f.StringVar(&o.until, "until", "", "only events received before this time (same forms as --since)")
	f.StringVarP(&o.out, "output", "o", "", "output file ("+files+"; '-' = stdout, the default) or directory ("+dirs+"; default '.')")
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	f.Int64Var(&o.progressEvery, "progress-every", 1_000_000, "when stderr is not a terminal, print a progress line every N rows (0 = never)")
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

// exportLong is export's help text; the formats and kinds come from
// export.Formats and storage.EventTables.
func exportLong() string {
	var b strings.Builder
	b.WriteString(`Export reads the database (read-only; it works while collect is writing) and
writes the events it holds, row by row, in constant memory.

Formats:
`)
	for _, f := range export.Formats {
		b.WriteString(textwrap.Hanging(fmt.Sprintf("  %-8s ", f.Name()), f.Doc(), 68))
	}
	files, dirs := formatsByOutput()
	b.WriteString("\n")
	for _, p := range []string{
		"--kind takes a kind (" + strings.Join(export.KindNames(), ", ") + ") or its table name; repeatable; default all.",
		"--room takes real room ids; repeatable; default all.",
		"--since / --until bound the receive time (recv_ms): since <= t < until. A time is RFC 3339 " +
			`("2026-11-27T20:00:00+08:00"), "2006-01-02 15:04:05" or "2006-01-02" read in UTC+8 ` +
			"(Bilibili's day, China Standard Time), or unix milliseconds.",
		"-o names the output file of " + files + " ('-', standard output, by default) or the directory of " + dirs +
			" ('.' by default; created if needed).",
	} {
		b.WriteString(textwrap.Hanging("", p, 79))
	}
	b.WriteString("\nFiles are written under a temporary name and renamed when complete.")
	return b.String()
}

// formatNames joins the formats' names with sep.
func formatNames(sep string) string { return strings.Join(export.FormatNames(nil), sep) }

// formatsByOutput lists the formats that write one file and those that
// write into a directory.
func formatsByOutput() (files, dirs string) {
	toFile := func(f export.Format) bool { return !f.ToDir() }
	return strings.Join(export.FormatNames(toFile), ", "), strings.Join(export.FormatNames(export.Format.ToDir), ", ")
}

// orList turns "a, b, c" into "a, b or c".
func orList(s string) string {
	if i := strings.LastIndex(s, ", "); i >= 0 {
		return s[:i] + " or " + s[i+2:]
	}
	return s
}

// options turns the flags into export.Options; every error is a usage
// error.
func (o *exportOptions) options() (export.Options, error) {
	opts := export.Options{Out: o.out, Stdout: o.stdout, Version: version, Partition: o.partition}
	if opts.Format = export.FormatNamed(o.format); opts.Format == nil {
		return opts, fmt.Errorf("--format must be one of %s, not %q", formatNames(", "), o.format)
	}
	switch {
	case o.partition != "" && o.partition != export.PartitionDay:
		return opts, fmt.Errorf("--partition must be %q, not %q", export.PartitionDay, o.partition)
	case o.partition != "" && opts.Format != export.Parquet:
		return opts, fmt.Errorf("--partition %s writes Parquet: it needs --format parquet, not %s", o.partition, o.format)
	}
	opts.Filter.Rooms = o.rooms
	var err error
	if opts.Filter.SinceMs, err = export.ParseTime(o.since); err != nil {
		return opts, fmt.Errorf("--since: %w", err)
	}
	if opts.Filter.UntilMs, err = export.ParseTime(o.until); err != nil {
		return opts, fmt.Errorf("--until: %w", err)
	}
	if f := opts.Filter; f.SinceMs != 0 && f.UntilMs != 0 && f.UntilMs <= f.SinceMs {
		return opts, fmt.Errorf("--until must be after --since")
	}
	for _, k := range o.kinds {
		et := storage.EventTableFor(strings.TrimSpace(k))
		if et == nil {
			return opts, fmt.Errorf("unknown --kind %q: want one of %s (or a table name)", k, strings.Join(export.KindNames(), ", "))
		}
		opts.Tables = append(opts.Tables, et)
	}
	if err := opts.Validate(); err != nil {
		if ke := (*export.KindsError)(nil); errors.As(err, &ke) {
			return opts, fmt.Errorf("--format %w", err)
		}
		return opts, err
	}
	return opts, nil
}

func (o *exportOptions) run(ctx context.Context) error {
	opts, err := o.options()
	if err != nil {
		return &exitError{exitUsage, err}
	}
	if opts.DBs, err = storage.ExpandPaths(o.dbs); err != nil {
		return &exitError{exitFailure, fmt.Errorf("--db: %w", err)}
	}
	prog := progress.New("export", o.stderr, progress.IsTerminal(o.stderr), o.quiet, o.progressEvery)
	opts.Progress = prog.Update
	_, err = opts.Run(ctx)
	prog.Finish(err == nil)
	switch {
	case err != nil && ctx.Err() != nil:
		return &exitError{exitFailure, fmt.Errorf("export interrupted; the unfinished file was removed (finished ones are kept)")}
	case err != nil:
		return &exitError{exitFailure, err}
	}
	return nil
}
