package storage

import "time"

// observeFlush reports a committed flush to the metrics handle: rows
// inserted per table, rows updated, duplicates ignored, its duration.
// The batch is empty after a successful flush, so nothing is pending.
func (w *Writer) observeFlush(took time.Duration, st *stmts, dups int64) {
	m := w.opts.Metrics
	if m == nil {
		return
	}
	rows := make(map[string]int64, len(st.ins))
	for i, n := range st.ins {
		if n != 0 {
			rows[registry[i].Name] = n
		}
	}
	m.Flushed(took, rows, st.updated, dups, 0)
}
