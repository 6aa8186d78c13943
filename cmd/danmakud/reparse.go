package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// reparseOptions are the reparse command's flags.
type reparseOptions struct {
	db            string
	quiet         bool
	progressEvery int64 // as export's
	stderr        io.Writer
	tty           bool // stderr is a terminal
}

// reparseResult is what a reparse did.
type reparseResult struct {
	Bodies   int64 // raw_messages rows read
	Events   int64 // events decoded from them and sent to the writer
	Skipped  int64 // events of time-series tables (or unknown commands) already present, not sent
	Bad      int64 // bodies the decoder could not read at all
	Rows     int64 // rows added
	Dups     int64 // events the unique keys ignored
	PerTable map[string]int64
	Duration time.Duration
}

// seriesTables are the tables without a unique key: a second reparse
// would add their rows again, so reparse writes them only for rooms that
// have none yet. Interactions without a trigger time (dedup_key NULL)
// are treated the same way.
var seriesTables = map[protocol.Kind]string{
	protocol.KindCounter: "counters", protocol.KindRoom: "room_events", protocol.KindCombo: "combos",
	// A delete also records a room event (see storage's super_chats).
	protocol.KindSuperChatDelete: "room_events",
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
			o.tty = isTerminal(os.Stderr) && o.stderr == os.Stderr
			ctx, _, stop := signalContexts(cmd.Context())
			defer stop()
			r, err := o.run(ctx)
			if err != nil {
				return err
			}
			if !o.quiet {
				o.print(r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.db, "db", "danmakud.db", "SQLite database file")
	cmd.Flags().BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	cmd.Flags().Int64Var(&o.progressEvery, "progress-every", 1_000_000, "when stderr is not a terminal, print a progress line every N archived bodies (0 = never)")
	return cmd
}

func (o *reparseOptions) print(r reparseResult) {
	fmt.Fprintf(o.stderr, "reparse: %d archived bodies → %d events in %s: %d rows added, %d duplicates ignored, %d skipped (time series already present), %d undecodable\n",
		r.Bodies, r.Events, r.Duration.Round(time.Millisecond), r.Rows, r.Dups, r.Skipped, r.Bad)
	for _, t := range storage.Tables() {
		if n := r.PerTable[t.Name]; n > 0 {
			fmt.Fprintf(o.stderr, "  %s: +%d\n", t.Name, n)
		}
	}
}

// run reparses the archive. The write handle (with the lock) feeds the
// writer; the archive is read through a second, read-only handle, as the
// write handle has a single connection that the writer needs.
func (o *reparseOptions) run(ctx context.Context) (reparseResult, error) {
	res := reparseResult{PerTable: map[string]int64{}}
	start := time.Now()
	db, err := storage.Open(o.db)
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return res, &exitError{exitLocked, fmt.Errorf("%s is in use by a running collect; reparse refuses to run beside it", o.db)}
		}
		return res, &exitError{exitFailure, err}
	}
	defer db.Close()
	ro, err := storage.OpenReadOnly(o.db)
	if err != nil {
		return res, &exitError{exitFailure, err}
	}
	defer ro.Close()

	// Decided before anything is written, so that this run's own rows do
	// not stop it.
	have := map[string]map[int64]bool{}
	for _, t := range seriesTables {
		if have[t] == nil {
			if have[t], err = db.RoomsWithRows(ctx, t, false); err != nil {
				return res, &exitError{exitFailure, db.Explain(err)}
			}
		}
	}
	keylessInteract, err := db.RoomsWithRows(ctx, "interactions", true)
	if err != nil {
		return res, &exitError{exitFailure, db.Explain(err)}
	}
	unknown, err := db.UnknownCmds(ctx)
	if err != nil {
		return res, &exitError{exitFailure, db.Explain(err)}
	}

	w := storage.NewWriter(db, storage.WriterOptions{FlushInterval: 5 * time.Second})
	records := make(chan storage.Record, 4096)
	writerDone := make(chan error, 1)
	// The writer's context is not ctx: a signal stops the reading, the
	// writer still flushes what it was sent.
	go func() { writerDone <- w.Run(context.Background(), records) }()

	prog := newProgress("reparse", o.stderr, o.tty, o.quiet, o.progressEvery)
	var dec protocol.CommandDecoder
	var evs []protocol.Event
	scanErr := ro.ScanRaw(ctx, func(roomID, recvMs int64, _ string, body []byte) error {
		res.Bodies++
		prog.update("raw_messages", res.Bodies)
		var derr error
		evs, derr = dec.Decode(evs[:0], append([]byte(nil), body...), roomID)
		if derr != nil {
			res.Bad++
			return nil
		}
		for _, e := range evs {
			b := e.Common()
			switch {
			case b.Kind == protocol.KindControl:
				continue
			case seriesTables[b.Kind] != "" && have[seriesTables[b.Kind]][b.RoomID]:
				res.Skipped++
				continue
			case b.Kind == protocol.KindOther && unknown[b.Cmd]:
				res.Skipped++
				continue
			case b.Kind == protocol.KindInteract && keylessInteract[b.RoomID] && storage.InteractKey(e.(*protocol.Interact)) == nil:
				res.Skipped++
				continue
			}
			res.Events++
			select {
			case records <- storage.Event{E: e, RecvMs: recvMs}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	close(records)
	werr := <-writerDone
	prog.finish(false) // the summary follows
	res.Rows, res.Dups = w.Stats.Rows.Load(), w.Stats.Dups.Load()
	for _, t := range storage.Tables() {
		if n := w.Stats.Inserted(t.Name); n > 0 {
			res.PerTable[t.Name] = n
		}
	}
	res.Duration = time.Since(start)
	switch {
	case werr != nil:
		return res, &exitError{exitFailure, fmt.Errorf("reparse: %w", werr)}
	case scanErr != nil && ctx.Err() != nil:
		return res, &exitError{exitOK, fmt.Errorf("reparse: interrupted after %d bodies; what was read is stored, run it again to finish", res.Bodies)}
	case scanErr != nil:
		return res, &exitError{exitFailure, scanErr}
	}
	return res, nil
}
