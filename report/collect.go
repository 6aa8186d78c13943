package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/storage"
)

// lowCoverage is the share below which the summary names a room.
const lowCoverage = 0.9

// WriteCollect writes the summary of a collection run into db (what
// `danmakud collect` prints at its end): counts, HTTP, coverage, and what
// was not collected and why.
func WriteCollect(w io.Writer, db string, res *daemon.Result) {
	m, took := res.Totals, res.Took
	b := bufio.NewWriter(w)
	defer b.Flush()
	fmt.Fprintf(b, "collect: %s in %s: %d events (%.0f/s), %d rows written in %d flushes, %d duplicates ignored\n",
		db, took.Round(time.Millisecond), m.Events, float64(m.Events)/took.Seconds(),
		m.Rows, m.Flushes, m.Dups)
	fmt.Fprintf(b, "collect: %d sessions (%d logged in, %d anonymous), %d reconnects (%d with a still-valid token), %d recycled for low coverage, %d stalled, %d auth failures, %d bad frames, %d waits on the writer\n",
		m.Sessions, m.LoggedIn, m.Anonymous, m.Reconnects, m.TokenReuse, m.Recycles,
		m.Stalls, m.AuthRejected, m.BadFrames, m.Backpressure)
	fmt.Fprintf(b, "collect: %d acks sent, %d re-sent commands dropped, %d anonymous connections upgraded to a login, %d login lapses\n",
		m.Acks, m.Resent, m.Upgrades, m.LoginLapses)
	fmt.Fprintf(b, "collect: HTTP %d requests, %d answered 412, %d held back by the breaker, %d failed, %d coverage checks skipped (no spare request budget)\n",
		m.HTTPRequests, m.HTTPRateLimited, m.HTTPRefused, m.HTTPFailed, m.HTTPSkipped)
	writeCoverage(b, res)
	if m.JournalDropped > 0 {
		fmt.Fprintf(b, "collect: %d frames were DROPPED by the frame journal (full, or the disk failing): they are not stored; see the log\n", m.JournalDropped)
	}
	if m.RoomsOverBudget > 0 {
		fmt.Fprintf(b, "collect: %d wanted rooms were not watched: the open-file limit does not fit them (see the log for the fix)\n", m.RoomsOverBudget)
	}
	if m.AccountsOK == 0 {
		fmt.Fprintf(b, "collect: this run was anonymous: what is stored is a sample (about one message in ten in most rooms). Log in: danmakud login\n")
	}
}

// WriteAnonymous writes what a collection without a login says before
// it starts (its end says it again, WriteCollect): that what it stores
// is a sample, and how to log in; cookiePath is the cookie file collect
// reads by default (roomsource.DefaultCookiePath).
func WriteAnonymous(w io.Writer, cookiePath string) {
	fmt.Fprintf(w, `collecting ANONYMOUSLY: Bilibili sends a guest connection about one message in ten
in most rooms, and masks user names and uids. What is stored is a sample, not the room's stream.
Log in for the full stream: danmakud login (then collect uses %s), or --cookie-file FILE.
`, cookiePath)
}

// CollectProgress returns the status line of a running collection (what
// collect redraws on a terminal, internal/progress.StartLine): the time
// since start, the rooms connected, the events a second since the
// previous line (since start for the first), the rows written and the
// reconnects, from totals read at each call. The function keeps the
// previous call's count: call it from one goroutine.
func CollectProgress(start time.Time, totals func() daemon.Totals) func(now time.Time) string {
	var lastEv int64
	last := start
	return func(now time.Time) string {
		m := totals()
		rate := float64(m.Events-lastEv) / now.Sub(last).Seconds()
		lastEv, last = m.Events, now
		return fmt.Sprintf("%s  rooms connected %d  %.0f msg/s  rows written %d  reconnects %d  ",
			now.Sub(start).Round(time.Second), m.RoomsConnected, rate, m.Rows, m.Reconnects)
	}
}

// writeCoverage writes the coverage lines of the summary: the estimated
// share of each room's danmaku that was stored, and the rooms below
// lowCoverage.
func writeCoverage(b io.Writer, res *daemon.Result) {
	c := res.CoverageSummary(time.Now(), lowCoverage)
	if c.Judged == 0 {
		fmt.Fprintf(b, "collect: coverage: no estimate (no history danmaku could be checked)\n")
		return
	}
	fmt.Fprintf(b, "collect: coverage (estimated from each room's danmaku history): %.1f%% of the history danmaku sent while connected arrived (%d of %d); rooms were connected %.1f%% of the time they were wanted; %d of %d rooms have an estimate (%d judged history danmaku or more: known to ±%.2f), %d sampled (anonymous or throttled)\n",
		100*float64(c.Arrived)/float64(c.Judged), c.Arrived, c.Judged, 100*c.ConnectedShare, c.Estimated, c.Rooms,
		storage.MinCoverageSamples, storage.CoverageMargin, c.Sampled)
	if len(c.Low) == 0 {
		return
	}
	var names []string
	for i, l := range c.Low {
		if i == 20 {
			names = append(names, fmt.Sprintf("… %d more", len(c.Low)-20))
			break
		}
		names = append(names, fmt.Sprintf("%d %.0f%% (%.0f–%.0f%%)", l.Room, 100*l.Estimate, 100*l.Low, 100*l.High))
	}
	fmt.Fprintf(b, "collect: %d rooms below %.0f%% coverage (95 %% interval in brackets): %s\n", len(c.Low), 100*lowCoverage, strings.Join(names, ", "))
}
