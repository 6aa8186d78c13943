package report

import (
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/storage"
)

// TestWriteCollect: the run summary says what was collected and, when
// something was not (frames the journal dropped, rooms over the
// descriptor budget, an anonymous run), says that too.
func TestWriteCollect(t *testing.T) {
	res := &daemon.Result{Took: 10 * time.Second, Totals: daemon.Totals{Events: 100, Rows: 120, Flushes: 3,
		JournalDropped: 7, RoomsOverBudget: 4}}
	var b strings.Builder
	WriteCollect(&b, "x.db", res)
	out := b.String()
	for _, want := range []string{"x.db in 10s: 100 events (10/s), 120 rows written in 3 flushes",
		"7 frames were DROPPED", "4 wanted rooms were not watched", "this run was anonymous", "coverage: no estimate"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// A room with an estimate (never connected, so 0) and one without:
	// the low room is listed with its interval.
	few, enough := &collector.CoverageCount{}, &collector.CoverageCount{}
	few.Judged.Store(storage.MinCoverageSamples - 1)
	enough.Judged.Store(storage.MinCoverageSamples)
	enough.Arrived.Store(10)
	res.Coverage = map[int64]*collector.CoverageCount{5: few, 6: enough}
	b.Reset()
	WriteCollect(&b, "x.db", res)
	for _, want := range []string{"1 of 2 rooms have an estimate (97 judged history danmaku or more: known to ±0.10)",
		"1 rooms below 90% coverage (95 % interval in brackets): 6 0% (0–0%)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	res.Coverage = nil
	b.Reset()
	res.Totals.JournalDropped, res.Totals.RoomsOverBudget, res.Totals.AccountsOK = 0, 0, 1
	WriteCollect(&b, "x.db", res)
	if out := b.String(); strings.Contains(out, "DROPPED") || strings.Contains(out, "not watched") || strings.Contains(out, "run was anonymous") {
		t.Errorf("a run that lost nothing reads as if it did:\n%s", out)
	}
}

// TestCollectProgress: the line's rate is the events since the previous
// line over the time since it.
func TestCollectProgress(t *testing.T) {
	start := time.Unix(1000, 0)
	tot := daemon.Totals{RoomsConnected: 3, Events: 50, Rows: 40, Reconnects: 1}
	line := CollectProgress(start, func() daemon.Totals { return tot })
	if got, want := line(start.Add(time.Second)), "1s  rooms connected 3  50 msg/s  rows written 40  reconnects 1  "; got != want {
		t.Errorf("first line %q, want %q", got, want)
	}
	tot.Events, tot.Rows = 250, 200
	if got, want := line(start.Add(3*time.Second)), "3s  rooms connected 3  100 msg/s  rows written 200  reconnects 1  "; got != want {
		t.Errorf("second line %q, want %q", got, want)
	}
}

func TestWriteAnonymous(t *testing.T) {
	var b strings.Builder
	WriteAnonymous(&b, "/home/u/.config/danmakud/cookies.txt")
	if out := b.String(); !strings.HasPrefix(out, "collecting ANONYMOUSLY: ") || strings.Count(out, "\n") != 3 ||
		!strings.Contains(out, "danmakud login (then collect uses /home/u/.config/danmakud/cookies.txt), or --cookie-file FILE.\n") {
		t.Errorf("notice:\n%s", out)
	}
}
