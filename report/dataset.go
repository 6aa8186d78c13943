package report

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/storage"
)

// Dataset is one or more database files read as one, for the HTML
// report: their summaries (as `stats` gives them) and their activity
// over time, summed.
type Dataset struct {
	Files   []string
	Summary *storage.Summary
	Act     *storage.Activity
}

// Load reads the database files at paths (read-only: they may be in use
// by a collect) into one Dataset. Counts add up across files; a room's
// coverage over several files is the rule `stats` applies to one
// (storage.CoverageEstimate of its judged items over all files, times
// its connected share over all files). Errors name the file.
func Load(ctx context.Context, paths []string) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("report: no database file")
	}
	ds := &Dataset{Files: paths}
	for _, p := range paths {
		s, a, err := loadOne(ctx, p)
		if err != nil {
			return nil, err
		}
		if ds.Summary == nil {
			ds.Summary, ds.Act = s, a
			continue
		}
		mergeSummary(ds.Summary, s)
		mergeActivity(ds.Act, a)
	}
	if len(paths) > 1 {
		recomputeCoverage(ds.Summary)
	}
	return ds, nil
}

func loadOne(ctx context.Context, path string) (*storage.Summary, *storage.Activity, error) {
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		return nil, nil, fmt.Errorf("report: %s: %w", path, err)
	}
	defer db.Close()
	s, err := db.Summarize(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("report: %s: %w", path, db.Explain(err))
	}
	a, err := db.Activity(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("report: %s: %w", path, db.Explain(err))
	}
	return s, a, nil
}

// mergeSummary adds o into s (coverage is recomputed afterwards).
func mergeSummary(s, o *storage.Summary) {
	s.Runs += o.Runs
	for k, n := range o.Rows {
		s.Rows[k] += n
	}
	if o.FirstMs > 0 && (s.FirstMs == 0 || o.FirstMs < s.FirstMs) {
		s.FirstMs = o.FirstMs
	}
	s.LastMs = max(s.LastMs, o.LastMs)
	s.Reconnects += o.Reconnects
	s.Malformed += o.Malformed
	for room, rs := range o.Rooms {
		cur, ok := s.Rooms[room]
		if !ok {
			cur = storage.RoomStats{Kinds: map[string]int64{}}
		}
		for k, n := range rs.Kinds {
			cur.Kinds[k] += n
		}
		s.Rooms[room] = cur
	}
	byRoom := map[int64]int{}
	for i, c := range s.Connections {
		byRoom[c.RoomID] = i
	}
	for _, c := range o.Connections {
		i, ok := byRoom[c.RoomID]
		if !ok {
			s.Connections = append(s.Connections, c)
			byRoom[c.RoomID] = len(s.Connections) - 1
			continue
		}
		m := &s.Connections[i]
		m.Connections += c.Connections
		m.Reconnects += c.Reconnects
		m.Connected += c.Connected
		m.Wanted += c.Wanted
		m.Span += c.Span
		m.HistSeen += c.HistSeen
		m.HistArrived += c.HistArrived
		m.Anonymous += c.Anonymous
		m.Sampled += c.Sampled
		m.Acks += c.Acks
		m.Starved += c.Starved
		m.Stalled += c.Stalled
		m.BadFrames += c.BadFrames
	}
	counts := map[string]int64{}
	for _, u := range append(s.Unknown, o.Unknown...) {
		counts[u.Cmd] += u.Count
	}
	s.Unknown = s.Unknown[:0]
	for cmd, n := range counts {
		s.Unknown = append(s.Unknown, storage.UnknownCmd{Cmd: cmd, Count: n})
	}
}

// roomCoverage is a room's estimated coverage from its summed counts
// (the rule storage applies to one file), nil when it cannot say.
func roomCoverage(seen, arrived int64, share float64) *float64 {
	c, ok := storage.CoverageEstimate(seen, arrived)
	if !ok {
		return nil
	}
	c *= share
	return &c
}

// recomputeCoverage sets the connected shares and coverage estimates of
// a merged summary from its summed counts.
func recomputeCoverage(s *storage.Summary) {
	var seen, arrived int64
	var connected, wanted float64
	s.RoomsSeen = int64(len(s.Connections))
	for i := range s.Connections {
		c := &s.Connections[i]
		c.ConnectedShare = 0
		if c.Wanted > 0 {
			c.ConnectedShare = min(1, c.Connected/c.Wanted)
		}
		c.Coverage = roomCoverage(c.HistSeen, c.HistArrived, c.ConnectedShare)
		room := strconv.FormatInt(c.RoomID, 10)
		s.Coverage[room] = c.Coverage
		if rs, ok := s.Rooms[room]; ok {
			rs.Coverage = c.Coverage
			s.Rooms[room] = rs
		}
		seen, arrived, connected, wanted = seen+c.HistSeen, arrived+c.HistArrived, connected+c.Connected, wanted+c.Wanted
	}
	share := 0.0
	if wanted > 0 {
		share = min(1, connected/wanted)
	}
	s.OverallCoverage = roomCoverage(seen, arrived, share)
}

// mergeActivity adds o into a.
func mergeActivity(a, o *storage.Activity) {
	for t, m := range o.PerMinute {
		if a.PerMinute[t] == nil {
			a.PerMinute[t] = map[int64]int64{}
		}
		for minute, n := range m {
			a.PerMinute[t][minute] += n
		}
	}
	a.Spans = append(a.Spans, o.Spans...)
	a.Runs = append(a.Runs, o.Runs...)
	for room, m := range o.Money {
		a.Money[room] = a.Money[room].Add(m)
	}
	for room, ri := range o.Rooms {
		a.Rooms[room] = ri
	}
}

// WriteFile reads the database files at paths (Load) and writes their
// report to out as a whole: under a temporary name, renamed when
// complete, so that a file with the final name is a finished report.
func WriteFile(ctx context.Context, paths []string, out string, now time.Time) error {
	ds, err := Load(ctx, paths)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return fmt.Errorf("report: -o %s: %w", out, err)
	}
	if err := ds.WriteHTML(f, now); err != nil {
		f.Abort()
		return err
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("report: -o %s: %w", out, err)
	}
	return nil
}
