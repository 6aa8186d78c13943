package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// WriterOptions tune the single writer. Zero values mean the defaults.
type WriterOptions struct {
	RunID         int64
	FlushInterval time.Duration // default 10s
	// BatchMax flushes early when this many records wait; default
	// 100,000 (BENCHMARKS.md: at a million rows over 10,000 rooms a
	// larger transaction shares more index pages per row).
	BatchMax int
	// PendingMax bounds the records held in memory: producers wait while
	// this many are received and not committed. While flushes fail (a
	// full disk, a read-only file), reaching it makes Run give up and
	// return an error naming the file, the cause and the count (they are
	// lost, and said to be) — unless Journaled. Default DefaultPendingMax
	// (200,000 records, ~100 MB), at least BatchMax.
	PendingMax int
	// Journaled: the records come from a journal that keeps what they
	// were derived from until their Checkpoint commits (Decoded), so
	// nothing held is lost: while flushes fail Run never gives up, the
	// producers wait at PendingMax and the flush is retried.
	Journaled bool
	Logger    *slog.Logger
	// Observer is told of every record received and every flush, with
	// the rows it inserted per table (nil: nobody).
	Observer WriterObserver
	// Committed, when set, is called after each commit that stored a
	// Checkpoint (Decoded), with the latest one, from the flush
	// goroutine (the journal releases what is consumed).
	Committed func(Checkpoint)
	// Kinds, when not empty, are the only kinds of event stored (the
	// names ParseKinds accepts, as it returns them; other names match
	// nothing). An event of another kind is not stored: it is counted
	// per run, room and kind in unstored_events, in the transaction that
	// would have stored it. Connections, snapshots, rooms, commands
	// without a typed table, raw bodies (--raw) and undecodable input are
	// stored whatever Kinds says.
	Kinds []string
}

// DefaultPendingMax is WriterOptions.PendingMax's default: the records
// held in memory while flushes fail, before Run gives up.
const DefaultPendingMax = 200000

// Writer owns all writes: Run takes the records, and one flush at a time
// commits them on a goroutine of its own.
type Writer struct {
	db   *DB
	opts WriterOptions
	log  *slog.Logger
	obs  WriterObserver // opts.Observer, or a no-op
	// prepared holds each table's INSERT, prepared once on the database
	// (so once on its single connection) before the first transaction
	// that needs it, and bound to every flush's transaction with Tx.Stmt,
	// which reuses it. Only the running flush touches it; Run closes them
	// on return, after the last flush ended.
	prepared map[string]*sql.Stmt
	// codes are the lookup codes known committed (lookup → value key → code),
	// kept across flushes; only the running flush touches them.
	codes map[*lookup]map[string]int64
	// unstored are the event tables whose rows opts.Kinds leaves out,
	// with their kind's name; nil = none.
	unstored map[*Table]string
}

// NewWriter returns a writer for db.
func NewWriter(db *DB, opts WriterOptions) *Writer {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Second
	}
	if opts.BatchMax <= 0 {
		opts.BatchMax = 100000
	}
	if opts.PendingMax <= 0 {
		opts.PendingMax = max(DefaultPendingMax, opts.BatchMax)
	}
	w := &Writer{db: db, opts: opts, log: opts.Logger, obs: opts.Observer, prepared: map[string]*sql.Stmt{}, codes: map[*lookup]map[string]int64{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Kinds) > 0 {
		w.unstored = map[*Table]string{}
		for _, et := range eventTables {
			if !slices.Contains(opts.Kinds, string(et.Kind)) {
				w.unstored[et.Table] = string(et.Kind)
			}
		}
	}
	if w.obs == nil {
		w.obs = nopWriterObserver{}
	}
	return w
}

// qJournalPosition records the journal position a flush commits.
const qJournalPosition = `INSERT INTO journal_position (journal_id, seg, off, committed_ms) VALUES (?, ?, ?, ?)
 ON CONFLICT (journal_id) DO UPDATE SET seg = excluded.seg, off = excluded.off, committed_ms = excluded.committed_ms`

// JournalPosition is the journal position last committed for journal
// id, if any.
func (d *DB) JournalPosition(ctx context.Context, id uint64) (Checkpoint, bool, error) {
	cp := Checkpoint{JournalID: id}
	err := d.SQL.QueryRowContext(ctx, "SELECT seg, off FROM journal_position WHERE journal_id = ?", int64(id)).Scan(&cp.Seg, &cp.Off)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, false, nil
	}
	if err != nil {
		return cp, false, fmt.Errorf("storage: %s: journal position: %w", d.path, err)
	}
	return cp, true, nil
}

// unstoredKey is what unstored_events counts by, besides the run.
type unstoredKey struct {
	room int64
	kind string
}

// qUnstored adds to the count of events a run did not store.
const qUnstored = `INSERT INTO unstored_events (run_id, room_id, kind, count) VALUES (?, ?, ?, ?)
 ON CONFLICT (run_id, room_id, kind) DO UPDATE SET count = count + excluded.count`

// ParseKinds checks the kinds to store (WriterOptions.Kinds; collect
// --kinds): each a kind as export names it (danmaku, gift, super_chat,
// …) or its table's name; it returns them as kinds, each once, in
// export order. The error names the first unknown one and lists the
// kinds.
func ParseKinds(names []string) ([]string, error) {
	want := map[*EventTable]bool{}
	for _, n := range names {
		et := EventTableFor(strings.TrimSpace(n))
		if et == nil {
			var all []string
			for _, et := range eventTables {
				all = append(all, string(et.Kind))
			}
			return nil, fmt.Errorf("unknown kind %q: want one of %s (or a table name)", n, strings.Join(all, ", "))
		}
		want[et] = true
	}
	var out []string
	for _, et := range eventTables {
		if want[et] {
			out = append(out, string(et.Kind))
		}
	}
	return out, nil
}

// routed is a record with its table (nil: it stores nothing) and its
// sort key: the table's registry index (len(registry) for nil) and room.
type routed struct {
	r    Record
	t    *Table
	idx  int
	room int64
}

// route finds every record's table and sorts the batch for locality:
// one table (statement) at a time in registry order, rooms in order,
// arrival order kept within a room; records that store nothing last. A
// record that also adds a row to a later table (Table.also: a super chat
// delete's room event) goes at that table's place, so that its row keeps
// arrival order there (rowid order is arrival order in every table) and
// its change to its own table follows that table's rows of the batch.
func route(batch []Record) ([]routed, error) {
	out := make([]routed, len(batch))
	for i, r := range batch {
		t, err := tableFor(r)
		if err != nil {
			return nil, err
		}
		idx := len(registry)
		if t != nil {
			idx = t.idx
			if e, ok := r.(Event); ok {
				if at := t.also[e.E.Common().Kind]; at != nil {
					idx = max(idx, at.idx)
				}
			}
		}
		out[i] = routed{r, t, idx, r.roomKey()}
	}
	slices.SortStableFunc(out, func(a, b routed) int {
		if a.idx != b.idx {
			return a.idx - b.idx
		}
		switch {
		case a.room < b.room:
			return -1
		case a.room > b.room:
			return 1
		}
		return 0
	})
	return out, nil
}

func (w *Writer) flush(ctx context.Context, batch []Record, at *Checkpoint) (err error) {
	start := time.Now()
	sorted, err := route(batch)
	if err != nil {
		return err
	}
	// Prepare what this batch inserts before the transaction takes the
	// database's only connection.
	for _, rt := range sorted {
		if rt.t != nil && w.prepared[rt.t.insert] == nil {
			p, err := w.db.SQL.PrepareContext(ctx, rt.t.insert)
			if err != nil {
				return err
			}
			w.prepared[rt.t.insert] = p
		}
	}
	tx, err := w.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	st := newStmts(tx)
	st.prepared = w.prepared
	st.codes = w.codes
	defer st.close()
	var dups int64
	unstored := map[unstoredKey]int64{}
	for _, rt := range sorted {
		t := rt.t
		if t == nil {
			break // the rest store nothing either
		}
		if kind, ok := w.unstored[t]; ok {
			unstored[unstoredKey{rt.room, kind}]++
			continue
		}
		before := st.inserted
		if err := st.put(t, w.opts.RunID, rt.r); err != nil {
			return fmt.Errorf("storage: %s: %w", t.Name, err)
		}
		if t.Dedup && st.inserted == before {
			dups++
		}
	}
	for k, n := range unstored {
		if _, err := st.exec(qUnstored, w.opts.RunID, k.room, k.kind, n); err != nil {
			return fmt.Errorf("storage: unstored_events: %w", err)
		}
	}
	if at != nil {
		if _, err := st.exec(qJournalPosition, int64(at.JournalID), at.Seg, at.Off, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("storage: journal_position: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	st.keepCodes()
	if at != nil && w.opts.Committed != nil {
		w.opts.Committed(*at)
	}
	w.observeFlush(time.Since(start), st, dups)
	w.log.Debug("flushed", "records", len(batch), "rows", st.inserted+st.updated, "took", time.Since(start))
	return nil
}

// stmts binds the writer's prepared statements to one transaction (the
// others it prepares in the transaction), on first use, and counts what
// the transaction changed.
type stmts struct {
	tx       *sql.Tx
	prepared map[string]*sql.Stmt // the writer's; nil = none
	m        map[string]*sql.Stmt
	ins      []int64 // rows inserted, per registry index
	inserted int64   // Σ ins
	updated  int64   // rows updated
	// codes are the lookup codes known committed (the writer's; nil =
	// none), added the codes this transaction read or made, which join
	// codes only when it commits (keepCodes); by lookup.value's key.
	codes, added map[*lookup]map[string]int64
}

func newStmts(tx *sql.Tx) *stmts {
	return &stmts{tx: tx, m: map[string]*sql.Stmt{}, ins: make([]int64, len(registry)), added: map[*lookup]map[string]int64{}}
}

// put writes one record routed to t: t's put, or else its row.
func (s *stmts) put(t *Table, runID int64, r Record) error {
	if t.put != nil {
		return t.put(s, t, runID, r)
	}
	row := t.row(runID, r)
	if row == nil {
		return fmt.Errorf("unexpected record %T", r)
	}
	_, err := s.insert(t, row)
	return err
}

// code is the code of v (lookup.value) in lookup l, added to l's table
// if new.
func (s *stmts) code(l *lookup, v any) (int64, error) {
	parts, key, err := l.value(v)
	if err != nil {
		return 0, err
	}
	if c, ok := s.codes[l][key]; ok {
		return c, nil
	}
	if c, ok := s.added[l][key]; ok {
		return c, nil
	}
	if _, err := s.exec(l.insert, parts...); err != nil {
		return 0, err
	}
	var c int64
	if err := s.queryRow(l.query, parts...).Scan(&c); err != nil {
		return 0, err
	}
	if s.added[l] == nil {
		s.added[l] = map[string]int64{}
	}
	s.added[l][key] = c
	return c, nil
}

// keepCodes adds the codes of a committed transaction to the known ones.
func (s *stmts) keepCodes() {
	if s.codes == nil {
		return
	}
	for l, m := range s.added {
		if s.codes[l] == nil {
			s.codes[l] = map[string]int64{}
		}
		for text, c := range m {
			s.codes[l][text] = c
		}
	}
}

// close releases the transaction's statements; the prepared ones they
// wrap stay open for the next flush.
func (s *stmts) close() {
	for _, st := range s.m {
		st.Close()
	}
}

func (s *stmts) prep(q string) (*sql.Stmt, error) {
	if st, ok := s.m[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if p := s.prepared[q]; p != nil {
		st = s.tx.Stmt(p)
	} else {
		var err error
		if st, err = s.tx.Prepare(q); err != nil {
			return nil, err
		}
	}
	s.m[q] = st
	return st, nil
}

// closePrepared closes the statements prepared for the writer.
func (w *Writer) closePrepared() {
	for q, st := range w.prepared {
		st.Close()
		delete(w.prepared, q)
	}
}

func (s *stmts) exec(q string, args ...any) (int64, error) {
	st, err := s.prep(q)
	if err != nil {
		return 0, err
	}
	res, err := st.Exec(args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insert runs t's INSERT with row (t.Row's values: a lookup column's
// value is stored as its code; the columns the INSERT skips are left out)
// and returns the rows added (0: a duplicate the unique key ignored).
func (s *stmts) insert(t *Table, row []any) (int64, error) {
	args := make([]any, 0, len(row))
	for i, c := range t.Columns {
		if c.code != nil {
			code, err := s.code(c.code, row[i])
			if err != nil {
				return 0, fmt.Errorf("column %s: %w", c.Name, err)
			}
			args = append(args, code)
			continue
		}
		if !slices.Contains(t.skip, c.Name) {
			args = append(args, row[i])
		}
	}
	n, err := s.exec(t.insert, args...)
	if err == nil {
		s.ins[t.idx] += n
		s.inserted += n
	}
	return n, err
}

// update runs an UPDATE and returns the rows it matched.
func (s *stmts) update(q string, args ...any) (int64, error) {
	n, err := s.exec(q, args...)
	if err == nil {
		s.updated += n
	}
	return n, err
}

// queryRow runs a one-row query in the transaction.
func (s *stmts) queryRow(q string, args ...any) *sql.Row {
	st, err := s.prep(q)
	if err != nil {
		return s.tx.QueryRow(q, args...) // reports the same error at Scan
	}
	return st.QueryRow(args...)
}
