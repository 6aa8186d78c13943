package report

import (
	"fmt"
	"io"
	"time"

	"github.com/danmakud/danmakud/storage"
)

// WriteMerge writes what a merge into out did (what `danmakud merge`
// prints at its end): per input the rows read and added, and the rows
// each table gained from it (in registry order, tables that gained
// none left out); then the totals and the rows read a second.
func WriteMerge(w io.Writer, out string, res storage.MergeResult) {
	for _, in := range res.Inputs {
		var added int64
		for _, n := range in.Added {
			added += n
		}
		fmt.Fprintf(w, "merge: %s: %d rows read, %d added\n", in.Path, in.Read, added)
		writeAdded(w, in.Added)
	}
	rate := 0.0
	if s := res.Took.Seconds(); s > 0 {
		rate = float64(res.Read) / s
	}
	fmt.Fprintf(w, "merge: %d file(s) into %s in %s: %d rows read (%.0f rows/s), %d added\n",
		len(res.Inputs), out, res.Took.Round(time.Millisecond), res.Read, rate, res.Added)
}

// WriteReparse writes what a reparse did (what `danmakud reparse` prints
// at its end): the bodies read, the events they gave and what became of
// them, then the rows each table gained.
func WriteReparse(w io.Writer, r storage.ReparseResult) {
	fmt.Fprintf(w, "reparse: %d archived bodies → %d events in %s: %d rows added, %d duplicates ignored, %d skipped (time series already present), %d undecodable\n",
		r.Bodies, r.Events, r.Duration.Round(time.Millisecond), r.Rows, r.Dups, r.Skipped, r.Bad)
	writeAdded(w, r.PerTable)
}

// writeAdded writes one "  table: +n" line per table that gained rows,
// in registry order.
func writeAdded(w io.Writer, added map[string]int64) {
	for _, t := range storage.Tables() {
		if n := added[t.Name]; n > 0 {
			fmt.Fprintf(w, "  %s: +%d\n", t.Name, n)
		}
	}
}
