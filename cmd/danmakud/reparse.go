package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/danmakud/danmakud/internal/progress"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// reparseOptions are the reparse command's flags.
type reparseOptions struct {
	db            string
	quiet         bool
	progressEvery int64 // as export's
	stderr        io.Writer
}

func newReparseCmd() *cobra.Command {
	var o reparseOptions
	cmd := &cobra.Command{
		Use:   "reparse --db FILE",
		Short: "Re-derive the event tables from the raw archive (collect --raw) with this build's decoder",
		Long: `Reparse decodes every body of raw_messages (filled by collect --raw) again
with this build's protocol decoder and stores the events through the normal
writer, so that a parser improvement reaches data already collected.

It is idempotent. Tables with a unique key (danmaku, gifts, super_chats,
guards, interactions, red_pockets) take each event once however often
reparse runs: rows already there are kept as they are (an event the old
decoder got wrong is not corrected, only events it missed are added). The
time series without a key (counters, room_events, combos, and interactions
without a trigger time, which have no dedup key) are written only for rooms
that have no such row yet, and commands already counted in unknown_commands
are not counted again; the rest of those is skipped (and counted as
skipped). raw_messages itself is not changed.

Reparse takes the database's lock like collect: it refuses (exit 4) while a
collect runs, and a collect started meanwhile refuses.`,
		Example: `  danmakud collect --db danmakud.db --raw --duration 1h
  # … after upgrading danmakud:
  danmakud reparse --db danmakud.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stderr = cmd.ErrOrStderr()
			ctx, _, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			r, err := o.run(ctx)
			if err != nil {
				return err
			}
			if !o.quiet {
				report.WriteReparse(o.stderr, r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.db, "db", "danmakud.db", "SQLite database file")
	cmd.Flags().BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	cmd.Flags().Int64Var(&o.progressEvery, "progress-every", 1_000_000, "when stderr is not a terminal, print a progress line every N archived bodies (0 = never)")
	return cmd
}

// run opens the database for writing (with the lock) and reparses it.
func (o *reparseOptions) run(ctx context.Context) (storage.ReparseResult, error) {
	db, err := storage.Open(o.db)
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return storage.ReparseResult{}, &exitError{exitLocked, fmt.Errorf("%s is in use by a running collect; reparse refuses to run beside it", o.db)}
		}
		return storage.ReparseResult{}, &exitError{exitFailure, err}
	}
	defer db.Close()
	prog := progress.New("reparse", o.stderr, progress.IsTerminal(o.stderr), o.quiet, o.progressEvery)
	res, err := db.Reparse(ctx, storage.ReparseOptions{Progress: func(n int64) { prog.Update("raw_messages", n) }})
	prog.Finish(false) // the summary follows
	switch {
	case errors.Is(err, storage.ErrReparseInterrupted):
		return res, &exitError{exitOK, fmt.Errorf("reparse: interrupted after %d bodies; what was read is stored, run it again to finish", res.Bodies)}
	case err != nil:
		return res, &exitError{exitFailure, err}
	}
	return res, nil
}
