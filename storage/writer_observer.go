package storage

import "time"

// WriterObserver is told what a Writer does, for metrics. WriterRecord
// and FlushFailed are called from Run's goroutine, Flushed from the flush
// goroutine (one flush at a time) while Run may be reporting a record:
// an observer must expect Flushed concurrently with the other two. Every
// call happens before Run returns. The methods must not block.
// WriterOptions.Observer nil means nothing is told.
type WriterObserver interface {
	// WriterRecord: the writer received one record; pending is how many
	// it now holds uncommitted.
	WriterRecord(pending int)
	// Flushed: a flush committed after took: rows inserted per table
	// name (tables without a row left out), rows updated, records the
	// schema's unique keys ignored as duplicates. pending is 0 (the
	// flushed records are committed; records received meanwhile are
	// counted by the next WriterRecord). The observer may keep rows.
	Flushed(took time.Duration, rows map[string]int64, updated, dups int64, pending int)
	// FlushFailed: a flush failed; the writer keeps its batch and retries.
	FlushFailed()
}

// nopWriterObserver is the WriterObserver of a writer configured without
// one.
type nopWriterObserver struct{}

func (nopWriterObserver) WriterRecord(int)                                           {}
func (nopWriterObserver) Flushed(time.Duration, map[string]int64, int64, int64, int) {}
func (nopWriterObserver) FlushFailed()                                               {}

// observeFlush reports a committed flush: rows inserted per table, rows
// updated, duplicates ignored, its duration. The flushed batch is
// committed, so nothing of it is pending.
func (w *Writer) observeFlush(took time.Duration, st *stmts, dups int64) {
	rows := make(map[string]int64, len(st.ins))
	for i, n := range st.ins {
		if n != 0 {
			rows[registry[i].Name] = n
		}
	}
	w.obs.Flushed(took, rows, st.updated, dups, 0)
}
