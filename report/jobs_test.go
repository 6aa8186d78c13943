package report

import (
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/storage"
)

// TestWriteMerge: a line per input with its tables in registry order
// (none for a table that gained nothing), then the totals and the rate.
func TestWriteMerge(t *testing.T) {
	res := storage.MergeResult{Read: 300, Added: 25, Took: 1500 * time.Millisecond, Inputs: []storage.MergedInput{
		{Path: "a.db", Read: 200, Added: map[string]int64{"gifts": 5, "danmaku": 20, "counters": 0}},
		{Path: "b.db", Read: 100, Added: map[string]int64{}},
	}}
	var b strings.Builder
	WriteMerge(&b, "all.db", res)
	want := "merge: a.db: 200 rows read, 25 added\n  danmaku: +20\n  gifts: +5\n" +
		"merge: b.db: 100 rows read, 0 added\n" +
		"merge: 2 file(s) into all.db in 1.5s: 300 rows read (200 rows/s), 25 added\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	WriteMerge(&b, "all.db", storage.MergeResult{})
	if want := "merge: 0 file(s) into all.db in 0s: 0 rows read (0 rows/s), 0 added\n"; b.String() != want {
		t.Errorf("nothing merged: %q, want %q", b.String(), want)
	}
}

func TestWriteReparse(t *testing.T) {
	var b strings.Builder
	WriteReparse(&b, storage.ReparseResult{Bodies: 10, Events: 12, Rows: 9, Dups: 2, Skipped: 1, Bad: 1,
		PerTable: map[string]int64{"gifts": 1, "danmaku": 8}, Duration: 1234567 * time.Microsecond})
	want := "reparse: 10 archived bodies → 12 events in 1.235s: 9 rows added, 2 duplicates ignored, 1 skipped (time series already present), 1 undecodable\n" +
		"  danmaku: +8\n  gifts: +1\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
