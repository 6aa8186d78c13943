package storage

// Many files read as one dataset: stats and export over shards and
// rotated files.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// ExpandPaths turns --db values into files: a value with a glob
// metacharacter (* ? [) is a pattern (filepath.Glob, matches sorted by
// name), which must match at least one file; any other value is a file
// name taken as it is. A file reached twice (two patterns, a link) is
// kept once, at its first place.
func ExpandPaths(values []string) ([]string, error) {
	var out []string
	seen := map[fileKey]bool{}
	add := func(p string) {
		if fi, err := os.Stat(p); err == nil {
			if k, ok := keyOf(fi); ok {
				if seen[k] {
					return
				}
				seen[k] = true
			}
		}
		out = append(out, p)
	}
	for _, v := range values {
		if !strings.ContainsAny(v, "*?[") {
			add(v)
			continue
		}
		matches, err := filepath.Glob(v)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", v, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("pattern %q matches no file", v)
		}
		for _, m := range matches {
			add(m)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no database file given")
	}
	return out, nil
}

// ID is the file's database_id ("" for a file older than schema 4).
func (d *DB) ID(ctx context.Context) (string, error) {
	var id string
	err := d.SQL.QueryRowContext(ctx, "SELECT db_id FROM database_id").Scan(&id)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return "", nil
	}
	if err != nil {
		return "", d.Explain(err)
	}
	return id, nil
}

// Set is several database files read as one dataset, each opened
// read-only (OpenReadOnly). Its methods read the files in the order
// given.
type Set struct {
	DBs []*DB
}

// OpenSet opens the files read-only as one dataset. It refuses, with
// ErrOverlap, two files that are one database (copies: the same
// database_id) and a file that holds another of them merged in
// (merged_inputs): their events would count twice. Files older than
// schema 4 are not checked (they carry no id).
func OpenSet(ctx context.Context, paths []string) (*Set, error) {
	s := &Set{}
	ids := map[string]string{} // id → path
	var holds [][2]string      // path, id it holds
	for _, p := range paths {
		d, err := OpenReadOnly(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.DBs = append(s.DBs, d)
		id, err := d.ID(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		if id == "" {
			continue
		}
		if other, ok := ids[id]; ok {
			s.Close()
			return nil, fmt.Errorf("storage: %s: %w: it is the same database as %s (a copy); give one of them", p, ErrOverlap, other)
		}
		ids[id] = p
		nested, err := d.mergedIDs(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, n := range nested {
			holds = append(holds, [2]string{p, n})
		}
	}
	for _, h := range holds {
		if other, ok := ids[h[1]]; ok {
			s.Close()
			return nil, fmt.Errorf("storage: %s: %w: it holds %s merged in; give one of them", h[0], ErrOverlap, other)
		}
	}
	return s, nil
}

// mergedIDs lists the ids of the files merged into d.
func (d *DB) mergedIDs(ctx context.Context) ([]string, error) {
	rows, err := d.SQL.QueryContext(ctx, "SELECT input_id FROM merged_inputs")
	if err != nil {
		return nil, d.Explain(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, d.Explain(err)
		}
		ids = append(ids, id)
	}
	return ids, d.Explain(rows.Err())
}

// Close closes every file.
func (s *Set) Close() error {
	var errs []error
	for _, d := range s.DBs {
		errs = append(errs, d.Close())
	}
	return errors.Join(errs...)
}

// Paths are the files' paths, in order.
func (s *Set) Paths() []string {
	var p []string
	for _, d := range s.DBs {
		p = append(p, d.Path())
	}
	return p
}

// Summarize is SummarizeFiles over the set.
func (s *Set) Summarize(ctx context.Context) (*Summary, error) {
	return SummarizeFiles(ctx, s.DBs)
}

// CheckExportable is DB.CheckExportable for every file.
func (s *Set) CheckExportable(ctx context.Context) error {
	for _, d := range s.DBs {
		if err := d.CheckExportable(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ScanEvents is DB.ScanEvents over every file, one after another.
func (s *Set) ScanEvents(ctx context.Context, t *Table, f ExportFilter, fn func(row []any) error) error {
	for _, d := range s.DBs {
		if err := d.ScanEvents(ctx, t, f, fn); err != nil {
			return d.Explain(err)
		}
	}
	return nil
}

// errStopScan ends a scan that its consumer stopped pulling.
var errStopScan = errors.New("scan stopped")

// ScanTimeline is DB.ScanTimeline over every file, merged into one
// order: by room, receive time and kind, and for equal ones the earlier
// file first (as a merge of the files in this order stores them). Each
// file is read one row at a time.
func (s *Set) ScanTimeline(ctx context.Context, f ExportFilter, k TimelineKinds, fn func(it *TimelineItem) error) error {
	if len(s.DBs) == 1 {
		return s.DBs[0].ScanTimeline(ctx, f, k, fn)
	}
	type source struct {
		next func() (TimelineItem, error, bool)
		stop func()
		it   TimelineItem
		ok   bool
	}
	srcs := make([]*source, len(s.DBs))
	defer func() {
		for _, src := range srcs {
			if src != nil {
				src.stop()
			}
		}
	}()
	pull := func(i int, src *source) error {
		it, err, ok := src.next()
		if err != nil {
			return s.DBs[i].Explain(err)
		}
		src.it, src.ok = it, ok
		return nil
	}
	for i, d := range s.DBs {
		next, stop := iter.Pull2(timelineSeq(ctx, d, f, k))
		srcs[i] = &source{next: next, stop: stop}
		if err := pull(i, srcs[i]); err != nil {
			return err
		}
	}
	for {
		best := -1
		for i, src := range srcs {
			if src.ok && (best < 0 || timelineBefore(&src.it, &srcs[best].it)) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		it := srcs[best].it
		if err := fn(&it); err != nil {
			return err
		}
		if err := pull(best, srcs[best]); err != nil {
			return err
		}
	}
}

// timelineSeq is d's timeline as a sequence.
func timelineSeq(ctx context.Context, d *DB, f ExportFilter, k TimelineKinds) iter.Seq2[TimelineItem, error] {
	return func(yield func(TimelineItem, error) bool) {
		err := d.ScanTimeline(ctx, f, k, func(it *TimelineItem) error {
			if !yield(*it, nil) {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			yield(TimelineItem{}, err)
		}
	}
}

// timelineBefore orders timeline items as ScanTimeline does.
func timelineBefore(a, b *TimelineItem) bool {
	if a.RoomID != b.RoomID {
		return a.RoomID < b.RoomID
	}
	if a.RecvMs != b.RecvMs {
		return a.RecvMs < b.RecvMs
	}
	return a.Kind < b.Kind
}

// Room is what the files' rooms tables know of a room, combined as a
// merge of them combines it (keepKnownSet): a value known (not empty or
// 0) in the row seen last wins.
func (s *Set) Room(ctx context.Context, roomID int64) (RoomInfo, error) {
	r := RoomInfo{RoomID: roomID}
	var last int64
	found := false
	for _, d := range s.DBs {
		var o RoomInfo
		var seen int64
		err := d.SQL.QueryRowContext(ctx, `SELECT short_id, anchor_name, title, area_name, parent_area_name, last_seen_ms FROM rooms WHERE room_id = ?`, roomID).
			Scan(&o.ShortID, &o.AnchorName, &o.Title, &o.AreaName, &o.ParentAreaName, &seen)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("storage: %s: room %d: %w", d.Path(), roomID, err)
		}
		newer := !found || seen >= last
		if o.ShortID != 0 && (r.ShortID == 0 || newer) {
			r.ShortID = o.ShortID
		}
		for _, p := range [][2]*string{{&r.AnchorName, &o.AnchorName}, {&r.Title, &o.Title}, {&r.AreaName, &o.AreaName},
			{&r.ParentAreaName, &o.ParentAreaName}} {
			if *p[1] != "" && (*p[0] == "" || newer) {
				*p[0] = *p[1]
			}
		}
		if !found || seen > last {
			last = seen
		}
		found = true
	}
	return r, nil
}
