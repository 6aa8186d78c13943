package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/danmakud/danmakud/protocol"
)

// ReparseOptions tune Reparse.
type ReparseOptions struct {
	// Progress, when not nil, is called after every archived body read,
	// with the count so far, on Reparse's goroutine.
	Progress func(bodies int64)
}

// ReparseResult is what a reparse did.
type ReparseResult struct {
	Bodies int64 // raw_messages rows read
	Events int64 // events decoded from them and sent to the writer
	// Skipped are events not sent because their rows would have no unique
	// key to refuse a second copy and the room (or, for unknown_commands,
	// the command) already has such rows.
	Skipped  int64
	Bad      int64            // bodies the decoder could not read at all
	Rows     int64            // rows added
	Dups     int64            // events the unique keys ignored
	PerTable map[string]int64 // rows added per table, only tables that got some
	Duration time.Duration
}

// ErrReparseInterrupted is wrapped by Reparse's error when ctx ended the
// reading: what was read before is stored.
var ErrReparseInterrupted = errors.New("reparse interrupted")

// Reparse decodes every raw_messages body (collect --raw) again with
// this build's decoder and stores the events through a Writer, so that a
// parser improvement reaches data already collected. d must come from
// Open (it holds the lock); the archive is read through a second,
// read-only handle, as d's single connection is the writer's.
//
// It is idempotent. Tables with a unique key take each event once; rows
// already there are kept as they are. Rows no key protects (the
// registry's tables without KeyCols, and rows whose key is NULL) are
// written only where the database has none yet: per room, or per command
// for unknown_commands; the rest is counted in Skipped. raw_messages is
// not changed.
//
// Reparse blocks until done. When ctx ends it stops reading, lets the
// writer store what it was sent and returns an error wrapping
// ErrReparseInterrupted. A writer failure is returned as "reparse: "
// and the cause; other errors name the file.
func (d *DB) Reparse(ctx context.Context, o ReparseOptions) (ReparseResult, error) {
	res := ReparseResult{PerTable: map[string]int64{}}
	start := time.Now()
	if d.lock == nil {
		return res, fmt.Errorf("storage: reparse %s: needs a handle from Open, not OpenReadOnly", d.path)
	}
	ro, err := OpenReadOnly(d.path)
	if err != nil {
		return res, err
	}
	defer ro.Close()
	// Decided before anything is written, so that this run's own rows do
	// not stop it.
	have, err := d.readHave(ctx)
	if err != nil {
		return res, d.Explain(err)
	}
	w := NewWriter(d, WriterOptions{FlushInterval: 5 * time.Second, Observer: reparseCount{&res}})
	records := make(chan Record, 4096)
	writerDone := make(chan error, 1)
	// The writer's context is not ctx: a signal stops the reading, the
	// writer still flushes what it was sent.
	go func() { writerDone <- w.Run(context.Background(), records) }()
	scanErr := ro.ScanRaw(ctx, reparseBody(ctx, &res, have, records, o.Progress))
	close(records)
	werr := <-writerDone
	res.Duration = time.Since(start)
	switch {
	case werr != nil:
		return res, fmt.Errorf("reparse: %w", werr)
	case scanErr != nil && ctx.Err() != nil:
		return res, fmt.Errorf("storage: %w after %d bodies: %w", ErrReparseInterrupted, res.Bodies, ctx.Err())
	case scanErr != nil:
		return res, scanErr
	}
	return res, nil
}

// reparseCount is the writer's observer during a reparse: it adds the
// rows and duplicates each flush committed to the result. It relies on
// the writer reporting one flush at a time and returning from Run after
// the last; the result's other fields are reparseBody's.
type reparseCount struct{ res *ReparseResult }

func (reparseCount) WriterRecord(int) {}
func (reparseCount) FlushFailed()     {}
func (c reparseCount) Flushed(_ time.Duration, rows map[string]int64, _, dups int64, _ int) {
	for t, n := range rows {
		c.res.Rows += n
		c.res.PerTable[t] += n
	}
	c.res.Dups += dups
}

// reparseBody is ScanRaw's callback: it decodes one body and sends the
// events that have.skip does not hold back.
func reparseBody(ctx context.Context, res *ReparseResult, have *reparseHave, records chan<- Record,
	progress func(int64)) func(roomID, recvMs int64, cmd string, body []byte) error {
	var dec protocol.CommandDecoder
	var evs []protocol.Event
	return func(roomID, recvMs int64, _ string, body []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Bodies++
		if progress != nil {
			progress(res.Bodies)
		}
		var derr error
		evs, derr = dec.Decode(evs[:0], append([]byte(nil), body...), roomID)
		if derr != nil {
			res.Bad++
			return nil
		}
		for _, e := range evs {
			if skippedKinds[e.Common().Kind] {
				continue
			}
			if have.skip(e) {
				res.Skipped++
				continue
			}
			res.Events++
			select { // what was decoded goes to the writer while it has room
			case records <- Event{E: e, RecvMs: recvMs}:
			default:
				select {
				case records <- Event{E: e, RecvMs: recvMs}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
}

// unkeyedRows are, per event kind, the tables where its records add rows
// that no unique key protects: the table it is routed to when that has
// no key (or when its key may be NULL: nullKey), and the tables its
// records also add rows to (Table.also) that have none. Derived from the
// registry.
var unkeyedRows = map[protocol.Kind][]*Table{}

func init() {
	for _, t := range registry {
		for _, k := range t.Kinds {
			if !t.Dedup || t.nullKey != nil {
				unkeyedRows[k] = append(unkeyedRows[k], t)
			}
			if x := t.also[k]; x != nil && !x.Dedup {
				unkeyedRows[k] = append(unkeyedRows[k], x)
			}
		}
	}
	for _, ts := range unkeyedRows {
		for _, t := range ts {
			if t.column("room_id") == nil && t.column("cmd") == nil {
				panic("storage: reparse cannot tell which rows of " + t.Name + " are there: it has neither a key, room_id nor cmd")
			}
		}
	}
}

// reparseHave is what the database held before a reparse, of the rows no
// unique key protects: per table, the rooms that have such rows, or for a
// table without room_id the commands.
type reparseHave struct {
	rooms map[*Table]map[int64]bool
	cmds  map[*Table]map[string]bool
}

// readHave reads what reparse must not add again.
func (d *DB) readHave(ctx context.Context) (*reparseHave, error) {
	h := &reparseHave{rooms: map[*Table]map[int64]bool{}, cmds: map[*Table]map[string]bool{}}
	for _, ts := range unkeyedRows {
		for _, t := range ts {
			if h.rooms[t] != nil || h.cmds[t] != nil {
				continue
			}
			var err error
			if t.column("room_id") != nil {
				h.rooms[t], err = d.distinctInts(ctx, t, "room_id", nullKeyCond(t))
			} else {
				h.cmds[t], err = d.distinctStrings(ctx, t, "cmd")
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// skip reports whether e would add a row no key protects where such
// rows already are.
func (h *reparseHave) skip(e protocol.Event) bool {
	b := e.Common()
	for _, t := range unkeyedRows[b.Kind] {
		if t.Dedup && !t.nullKey(e) {
			continue // this event's row has a key
		}
		if h.rooms[t][b.RoomID] || h.cmds[t][b.Cmd] {
			return true
		}
	}
	return false
}

// nullKeyCond selects the rows of t that no unique key protects: all of
// them for a table without a key, else those whose key has a NULL.
func nullKeyCond(t *Table) string {
	if !t.Dedup {
		return ""
	}
	var c []string
	for _, k := range t.KeyCols {
		if t.column(k).Null {
			c = append(c, k+" IS NULL")
		}
	}
	return strings.Join(c, " OR ")
}
