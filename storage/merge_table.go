package storage

import (
	"database/sql"
	"errors"
	"strings"
)

// mergeSQL is the statement that copies the input rows of t with
// rowid in (?1, ?2] into out: codes and run ids mapped to out's, a row
// with a unique key already there ignored, rows with the same merge key
// combined (Table.merge).
func mergeSQL(t *Table) string {
	var cols, exprs []string
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
		switch {
		case c.code != nil:
			exprs = append(exprs, "(SELECT dst FROM temp.merge_map_"+c.code.Table+" WHERE src = x."+c.Name+")")
		case c.Name == "run_id":
			exprs = append(exprs, "(SELECT dst FROM temp.merge_map_runs WHERE src = x.run_id)")
		default:
			exprs = append(exprs, "x."+c.Name)
		}
	}
	q := "INSERT INTO main." + t.Stored() + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
		" FROM src." + t.Stored() + " x WHERE x.rowid > ?1 AND x.rowid <= ?2 ORDER BY x.rowid"
	m := t.merge
	if len(t.KeyCols) > 0 {
		// Only a uniqueness conflict is ignored (OR IGNORE would drop a
		// row that breaks NOT NULL too).
		return q + " ON CONFLICT DO NOTHING"
	}
	if len(m.key) == 0 {
		return q
	}
	set := m.set
	if set == "" {
		var s []string
		for _, c := range t.Columns {
			if !containsString(m.key, c.Name) {
				s = append(s, c.Name+" = excluded."+c.Name)
			}
		}
		set = strings.Join(s, ", ")
	}
	return q + " ON CONFLICT (" + strings.Join(m.key, ", ") + ") DO UPDATE SET " + set
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// table copies t's rows from the attached input chunk by chunk, each
// chunk in a transaction of its own: for mergeOnce from where the
// input's progress says, committing the progress with the rows; for
// mergeLatest all of them.
func (m *merger) table(in *mergeInput, t *Table, r *MergedInput) error {
	once := t.merge.how == mergeOnce
	var through int64
	if once {
		err := m.conn.QueryRowContext(m.ctx, "SELECT through FROM main.merge_progress WHERE input_id = ? AND tbl = ?", in.id, t.Name).Scan(&through)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	// A table whose rows combine or replace others: what it gained is
	// its count after less before (changes() counts updates too).
	counted := len(t.merge.key) > 0
	var before int64
	if counted {
		if err := m.conn.QueryRowContext(m.ctx, "SELECT count(*) FROM main."+t.Stored()).Scan(&before); err != nil {
			return err
		}
	}
	q := mergeSQL(t)
	for {
		var hi sql.NullInt64
		var n int64
		err := m.conn.QueryRowContext(m.ctx, "SELECT max(rowid), count(*) FROM (SELECT rowid FROM src."+t.Stored()+" WHERE rowid > ? ORDER BY rowid LIMIT ?)",
			through, m.opts.ChunkRows).Scan(&hi, &n)
		if err != nil {
			return err
		}
		if !hi.Valid {
			break
		}
		var added int64
		err = m.tx(func(tx *sql.Tx) error {
			res, err := tx.ExecContext(m.ctx, q, through, hi.Int64)
			if err != nil {
				return err
			}
			if added, err = res.RowsAffected(); err != nil {
				return err
			}
			if once {
				if _, err := tx.ExecContext(m.ctx, `INSERT INTO main.merge_progress (input_id, tbl, through) VALUES (?, ?, ?)
 ON CONFLICT (input_id, tbl) DO UPDATE SET through = excluded.through`, in.id, t.Name, hi.Int64); err != nil {
					return err
				}
			}
			if testHookMergeChunk != nil {
				return testHookMergeChunk(t.Name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		through = hi.Int64
		r.Read += n
		if !counted {
			r.Added[t.Name] += added
		}
		if m.opts.Progress != nil {
			m.opts.Progress(in.path, t.Name, m.read+r.Read)
		}
	}
	if counted {
		var after int64
		if err := m.conn.QueryRowContext(m.ctx, "SELECT count(*) FROM main."+t.Stored()).Scan(&after); err != nil {
			return err
		}
		r.Added[t.Name] += after - before
	}
	return nil
}
