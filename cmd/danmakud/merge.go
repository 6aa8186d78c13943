package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/danmakud/danmakud/internal/progress"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// mergeOptions are the merge command's flags.
type mergeOptions struct {
	out           string
	lockWait      time.Duration
	quiet         bool
	progressEvery int64 // as export's
	stderr        io.Writer
}

func newMergeCmd() *cobra.Command {
	var o mergeOptions
	cmd := &cobra.Command{
		Use:   "merge --db OUT IN...",
		Short: "Merge database files (shards, rotated files) into one, without duplicates",
		Long: `Merge adds the rows of each input database to OUT (created if missing):
events by their unique keys (an event already in OUT is kept as it is), the
tables without one (counters, room events, combos, …) once per input row,
every input's runs with new ids and where they came from (runs.source_db,
runs.source_run, runs.shard), with their connections and discovery rounds,
so that stats and coverage stay right on the merged file.

Merging a file again adds nothing it added before, and a merge cut short
(a signal, kill -9, a full disk) leaves OUT valid: run it again and it adds
exactly what is missing. Each transaction commits a chunk of rows together
with how far its input has been read (merge_progress, merged_inputs).

Inputs are only read. Each must be a danmakud database of this build's
schema version: another program's file, an older or newer danmakud file
(open it once with collect or reparse of this build first), OUT itself,
or a file OUT already holds through another merged file is refused before
anything is written (exit 2); an input a collect is writing is refused
(exit 4). An argument with * ? [ is a glob.`,
		Example: `  danmakud merge --db all.db shard-0.db shard-1.db shard-2.db shard-3.db
  danmakud merge --db 2026-11.db 'data/danmakud-202611*.db'   # a month of daily files`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stderr = cmd.ErrOrStderr()
			ctx, _, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			return o.run(ctx, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "db", "", "the database to merge into (created if missing; required)")
	f.DurationVar(&o.lockWait, "lock-wait", 0, "if a collect holds OUT, wait this long for it to finish (0 = exit 4 at once)")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors and warnings")
	f.Int64Var(&o.progressEvery, "progress-every", 1_000_000, "when stderr is not a terminal, print a progress line every N rows read (0 = never)")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

func (o *mergeOptions) run(ctx context.Context, args []string) error {
	ins, err := storage.ExpandPaths(args)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	prog := progress.New("merge", o.stderr, progress.IsTerminal(o.stderr), o.quiet, o.progressEvery)
	res, err := storage.Merge(ctx, o.out, ins, storage.MergeOptions{LockWait: o.lockWait,
		Progress: func(_, table string, rows int64) { prog.Update(table, rows) }})
	prog.Finish(false) // the summary follows
	for _, in := range res.Inputs {
		for _, w := range in.Warnings {
			fmt.Fprintln(o.stderr, "merge: warning:", w)
		}
	}
	if err != nil {
		return mergeError(ctx, err)
	}
	if !o.quiet {
		report.WriteMerge(o.stderr, o.out, res)
	}
	return nil
}

// mergeError maps a merge's error to an exit code.
func mergeError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return &exitError{exitFailure, fmt.Errorf("merge interrupted: what is committed stays; run the same merge again to finish it")}
	case errors.Is(err, storage.ErrLocked):
		return &exitError{exitLocked, err}
	case errors.Is(err, storage.ErrNotOurs), errors.Is(err, storage.ErrOtherSchema), errors.Is(err, storage.ErrNewerSchema),
		errors.Is(err, storage.ErrOverlap), errors.Is(err, storage.ErrReadOnly):
		return &exitError{exitUsage, err}
	}
	return &exitError{exitFailure, err}
}
