package storage

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"
)

// MergeOptions tune Merge. The zero value is usable.
type MergeOptions struct {
	// LockWait is how long to wait for another danmakud that holds the
	// output (see OpenOptions.LockWait); 0 = do not wait.
	LockWait time.Duration
	// ChunkRows is how many input rows one transaction copies; default
	// DefaultMergeChunk. Each transaction commits the rows together with
	// the input's progress.
	ChunkRows int
	// Progress, when set, is called after every committed chunk with the
	// input and the table the chunk came from, and the input rows read so
	// far by this Merge, all inputs together (a running total, as
	// MergeResult.Read ends). It runs on Merge's goroutine.
	Progress func(input, table string, rows int64)
}

// DefaultMergeChunk is MergeOptions.ChunkRows's default.
const DefaultMergeChunk = 20000

// MergeResult is what Merge did.
type MergeResult struct {
	Inputs []MergedInput
	Read   int64 // input rows read, all inputs
	Added  int64 // rows the output gained, all inputs
	Took   time.Duration
}

// MergedInput is what Merge did with one input.
type MergedInput struct {
	Path string
	ID   string // its database_id
	// Read is the input rows read: every row of the tables taken again
	// at each merge, and of the others those not merged before.
	Read int64
	// Added is, per table, the rows the output gained from this input
	// (a row of a table taken again at each merge counts when it is new).
	Added map[string]int64
	// Warnings say what may be missing from the input itself (a frame
	// journal not yet stored, an unfinished merge inside it).
	Warnings []string
}

// testHookMergeChunk, when set, runs in every chunk's transaction just
// before its commit (tests interrupt a merge there).
var testHookMergeChunk func(table string) error

// Merge merges the danmakud databases inputs into the database out
// (created if missing, migrated like Open does), by the registry's rules
// (MergeRules): event rows by their unique keys (a row already in out is
// kept), the tables without one once per input row, runs with new ids
// and where they came from, connections, snapshots and rooms taken
// again at every merge. It returns after every input is merged, or at
// the first error.
//
// Merge is idempotent and resumable: each transaction commits a chunk
// of rows (MergeOptions.ChunkRows) together with how far the input has
// been read (merge_progress), so merging a file again adds nothing it
// added before, and a merge cut short (an error, ctx ending, kill -9)
// leaves out a valid database that a second Merge completes, adding
// exactly what is missing. Memory stays bounded whatever the sizes: rows
// are copied by SQLite from the attached input to out, chunk by chunk.
//
// Inputs are checked before out is opened: each must be a danmakud
// database of this build's schema version (else ErrNotOurs,
// ErrNewerSchema or ErrOtherSchema), not in use by a collect (ErrLocked),
// and not out itself; an input that is in out through another merged
// file, or holds one out has otherwise, is refused (ErrOverlap) before
// anything of it is written. Inputs are opened read-only and never
// written (one with a non-empty -wal is read through it, and SQLite may
// add a -shm beside it); each is share-locked while the merge runs, so a
// collect started on it meanwhile waits or refuses. The same file given
// twice is merged once. Out is held with Open's exclusive lock.
func Merge(ctx context.Context, out string, inputs []string, opts MergeOptions) (MergeResult, error) {
	start := time.Now()
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = DefaultMergeChunk
	}
	ins, err := openInputs(out, inputs)
	defer func() {
		for _, in := range ins {
			in.close()
		}
	}()
	if err != nil {
		return MergeResult{}, err
	}
	if _, err := os.Stat(out); os.IsNotExist(err) {
		// A new output holds nothing: the inputs must not overlap one
		// another, checked before it is created.
		if err := checkInputs(newMergedSet(""), ins, out); err != nil {
			return MergeResult{}, err
		}
	}
	db, err := OpenContext(ctx, out, OpenOptions{LockWait: opts.LockWait})
	if err != nil {
		return MergeResult{}, err
	}
	defer db.Close()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return MergeResult{}, fmt.Errorf("storage: %s: %w", out, err)
	}
	defer conn.Close()
	m := &merger{ctx: ctx, out: out, conn: conn, opts: opts}
	set, err := m.mergedSet()
	if err != nil {
		return MergeResult{}, err
	}
	if err := checkInputs(set, ins, out); err != nil {
		return MergeResult{}, err
	}
	var res MergeResult
	for _, in := range ins {
		r, err := m.input(in)
		res.Inputs = append(res.Inputs, r)
		res.Read += r.Read
		m.read = res.Read
		for _, n := range r.Added {
			res.Added += n
		}
		if err != nil {
			return res, err
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// openInputs checks and share-locks every input (openInput), dropping a
// file given twice; none may be out. On an error the inputs opened so
// far are returned for closing.
func openInputs(out string, paths []string) ([]*mergeInput, error) {
	outFI, _ := os.Stat(out)
	var ins []*mergeInput
	seen := map[fileKey]bool{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return ins, fmt.Errorf("storage: merge input %w", err)
		}
		if outFI != nil && os.SameFile(fi, outFI) {
			return ins, fmt.Errorf("storage: %s: %w: it is the output %s", p, ErrOverlap, out)
		}
		if k, ok := keyOf(fi); ok {
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		in, err := openInput(p)
		if err != nil {
			return ins, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// checkInputs checks the inputs in order against what out holds (set)
// and what the inputs before them add to it (set is changed).
func checkInputs(set *mergedSet, ins []*mergeInput, out string) error {
	for _, in := range ins {
		if err := set.check(in, out); err != nil {
			return err
		}
		set.add(in)
	}
	return nil
}

// merger is one Merge's state: out's connection, which holds the
// attached input and the temporary code maps.
type merger struct {
	ctx  context.Context
	out  string
	conn *sql.Conn
	opts MergeOptions
	read int64 // input rows read from the inputs before the current one
}

// mergedSet reads what out holds.
func (m *merger) mergedSet() (*mergedSet, error) {
	s := newMergedSet("")
	if err := m.conn.QueryRowContext(m.ctx, "SELECT db_id FROM main.database_id").Scan(&s.own); err != nil {
		return nil, fmt.Errorf("storage: %s: its id: %w", m.out, err)
	}
	rows, err := m.conn.QueryContext(m.ctx, "SELECT input_id, coalesce(via, ''), path FROM main.merged_inputs")
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", m.out, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, via, path string
		if err := rows.Scan(&id, &via, &path); err != nil {
			return nil, fmt.Errorf("storage: %s: %w", m.out, err)
		}
		s.via[id], s.path[id] = via, path
	}
	return s, rows.Err()
}

// input merges one input: attach it, then the runs, lookups and
// merged_inputs in one transaction, then every merged table chunk by
// chunk, then mark it finished.
func (m *merger) input(in *mergeInput) (r MergedInput, err error) {
	r = MergedInput{Path: in.path, ID: in.id, Added: map[string]int64{}, Warnings: in.warn}
	if _, err := m.conn.ExecContext(m.ctx, "ATTACH DATABASE ? AS src", in.uri()); err != nil {
		return r, fmt.Errorf("storage: %s: attach: %w", in.path, err)
	}
	defer func() {
		if _, derr := m.conn.ExecContext(context.Background(), "DETACH DATABASE src"); derr != nil && err == nil {
			err = fmt.Errorf("storage: %s: detach: %w", in.path, derr)
		}
	}()
	wrap := func(err error) error {
		if err == nil || strings.Contains(err.Error(), in.path) {
			return err
		}
		return fmt.Errorf("storage: merging %s into %s: %w", in.path, m.out, err)
	}
	if err := m.begin(in, &r); err != nil {
		return r, wrap(err)
	}
	for _, t := range registry {
		switch t.merge.how {
		case mergeOnce, mergeLatest:
			if err := m.table(in, t, &r); err != nil {
				return r, wrap(err)
			}
		}
	}
	_, err = m.conn.ExecContext(m.ctx, "UPDATE main.merged_inputs SET finished_ms = ?, path = ? WHERE input_id = ?",
		time.Now().UnixMilli(), in.path, in.id)
	return r, wrap(err)
}

// tx runs fn in one transaction on out's connection.
func (m *merger) tx(fn func(tx *sql.Tx) error) error {
	tx, err := m.conn.BeginTx(m.ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// begin records the input (and what it holds) in merged_inputs, adds
// its lookup values and its runs, and fills the temporary maps from its
// codes and run ids to out's, in one transaction.
func (m *merger) begin(in *mergeInput, r *MergedInput) error {
	return m.tx(func(tx *sql.Tx) error {
		now := time.Now().UnixMilli()
		if _, err := tx.ExecContext(m.ctx, `INSERT INTO main.merged_inputs (input_id, path, via, started_ms) VALUES (?, ?, NULL, ?)
 ON CONFLICT (input_id) DO UPDATE SET path = excluded.path, finished_ms = NULL`, in.id, in.path, now); err != nil {
			return err
		}
		for _, n := range in.nested {
			if _, err := tx.ExecContext(m.ctx, `INSERT INTO main.merged_inputs (input_id, path, via, started_ms, finished_ms) VALUES (?, ?, ?, ?, ?)
 ON CONFLICT (input_id) DO UPDATE SET finished_ms = excluded.finished_ms`, n.id, n.path, in.id, now, n.finished); err != nil {
				return err
			}
		}
		for _, l := range lookups {
			if err := m.lookup(tx, l); err != nil {
				return fmt.Errorf("%s: %w", l.Table, err)
			}
		}
		n, err := m.runs(tx, in)
		r.Added["runs"] = n
		return err
	})
}

// lookup adds the input's values of l and maps its codes to out's
// (temp.merge_map_<table>).
func (m *merger) lookup(tx *sql.Tx, l *lookup) error {
	var cols, join []string
	for _, c := range l.Cols {
		cols = append(cols, c.Name)
		join = append(join, "o."+c.Name+" = s."+c.Name)
	}
	list := strings.Join(cols, ", ")
	mp := "temp.merge_map_" + l.Table
	for _, q := range []string{
		"CREATE TEMP TABLE IF NOT EXISTS merge_map_" + l.Table + " (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL)",
		"DELETE FROM " + mp,
		"INSERT INTO main." + l.Table + " (" + list + ") SELECT " + list + " FROM src." + l.Table + " WHERE true ORDER BY " + l.ID +
			" ON CONFLICT (" + list + ") DO NOTHING",
		"INSERT INTO " + mp + " (src, dst) SELECT s." + l.ID + ", o." + l.ID + " FROM src." + l.Table + " s JOIN main." + l.Table +
			" o ON " + strings.Join(join, " AND "),
	} {
		if _, err := tx.ExecContext(m.ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// mergedRun is one run as an input has it.
type mergedRun struct {
	id, started          int64
	ended                sql.NullInt64
	version, args, shard string
	status, sourceDB     sql.NullString
	sourceRun            sql.NullInt64
	origin               string // the file it was collected into
	originRun            int64  // its id there
	dst                  int64
}

// runs adds the input's runs to out once each, by where they were
// collected (a run merged into the input keeps its origin), updating the
// end of those out has already; it maps their ids (temp.merge_map_runs)
// and returns how many were new.
func (m *merger) runs(tx *sql.Tx, in *mergeInput) (int64, error) {
	rows, err := tx.QueryContext(m.ctx, "SELECT id, started_ms, ended_ms, version, args, exit_status, shard, source_db, source_run FROM src.runs ORDER BY id")
	if err != nil {
		return 0, err
	}
	var runs []mergedRun
	for rows.Next() {
		var r mergedRun
		if err := rows.Scan(&r.id, &r.started, &r.ended, &r.version, &r.args, &r.status, &r.shard, &r.sourceDB, &r.sourceRun); err != nil {
			rows.Close()
			return 0, err
		}
		r.origin, r.originRun = in.id, r.id
		if r.sourceDB.Valid {
			r.origin, r.originRun = r.sourceDB.String, r.sourceRun.Int64
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, q := range []string{"CREATE TEMP TABLE IF NOT EXISTS merge_map_runs (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL)",
		"DELETE FROM temp.merge_map_runs"} {
		if _, err := tx.ExecContext(m.ctx, q); err != nil {
			return 0, err
		}
	}
	known, err := m.mergedRuns(tx)
	if err != nil {
		return 0, err
	}
	var added int64
	for i := range runs {
		r := &runs[i]
		var ok bool
		r.dst, ok = known[runOrigin{r.origin, r.originRun}]
		switch {
		case !ok:
			res, err := tx.ExecContext(m.ctx, `INSERT INTO main.runs (started_ms, ended_ms, version, args, exit_status, shard, source_db, source_run)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.started, r.ended, r.version, r.args, r.status, r.shard, r.origin, r.originRun)
			if err != nil {
				return 0, err
			}
			if r.dst, err = res.LastInsertId(); err != nil {
				return 0, err
			}
			added++
		default:
			if _, err := tx.ExecContext(m.ctx, "UPDATE main.runs SET ended_ms = ?, exit_status = ?, shard = ? WHERE id = ?",
				r.ended, r.status, r.shard, r.dst); err != nil {
				return 0, err
			}
		}
		if _, err := tx.ExecContext(m.ctx, "INSERT INTO temp.merge_map_runs (src, dst) VALUES (?, ?)", r.id, r.dst); err != nil {
			return 0, err
		}
	}
	return added, nil
}

// runOrigin is where a run was collected: the file's id and its id
// there.
type runOrigin struct {
	db  string
	run int64
}

// mergedRuns maps the runs out holds from other files to their ids in
// out (runs are few: one per collect).
func (m *merger) mergedRuns(tx *sql.Tx) (map[runOrigin]int64, error) {
	rows, err := tx.QueryContext(m.ctx, "SELECT source_db, source_run, id FROM main.runs WHERE source_db IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	known := map[runOrigin]int64{}
	for rows.Next() {
		var o runOrigin
		var id int64
		if err := rows.Scan(&o.db, &o.run, &id); err != nil {
			return nil, err
		}
		known[o] = id
	}
	return known, rows.Err()
}
