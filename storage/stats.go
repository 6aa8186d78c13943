package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// How an estimated coverage is given (docs/usage.md, "How complete is my
// data?"). The history share arrived/judged is a proportion of a sample of
// the room's danmaku, so it has an interval: the 95 % Wilson score
// interval, given at any number of judged items. The share itself is given
// (not null) only from MinCoverageSamples judged items on, whatever
// arrived: a rule that looked at the share (say, "once its interval is
// narrow") would select on the outcome and lean, because an interval is
// narrowest near 0 and 1 — rooms that happen to see few arrivals would
// qualify first and read low.

// CoverageMargin is the widest uncertainty an estimated coverage may
// have: MinCoverageSamples is sized so that from it on the 95 % interval
// of every possible share lies within ±CoverageMargin of the share.
const CoverageMargin = 0.10

// MinCoverageSamples is the fewest judged room-history danmaku (Σ
// hist_seen) an estimated coverage needs; below it the estimate is null
// and only its interval is given. It is the smallest n from which the
// Wilson interval of every share k/n lies within ±CoverageMargin of it.
// The widest interval (furthest from its share) is near 0.4, which needs
// 97 items; a share of 0.5 would need 93, the anonymous ~0.1 share 62, a
// room that gets everything (or nothing) 35. TestMinCoverageSamples
// derives it. It is the same number for every room, so that whether an
// estimate is given does not depend on what arrived.
const MinCoverageSamples = 97

// CoverageEstimate is the one rule for an estimated history share: the
// share of judged room-history danmaku that arrived, and whether there are
// enough judged items to say it (at least MinCoverageSamples, however many
// arrived).
func CoverageEstimate(judged, arrived int64) (float64, bool) {
	if judged <= 0 {
		return 0, false
	}
	return min(1, float64(arrived)/float64(judged)), judged >= MinCoverageSamples
}

// CoverageInterval is the 95 % Wilson score interval [lo, hi] of the
// history share arrived/judged; ok is false when nothing was judged. It
// is given at any number of judged items (wide when there are few).
func CoverageInterval(judged, arrived int64) (lo, hi float64, ok bool) {
	if judged <= 0 {
		return 0, 0, false
	}
	n := float64(judged)
	p := min(1, float64(arrived)/n)
	const z = 1.96 // 95 %, two-sided
	center := (p + z*z/(2*n)) / (1 + z*z/n)
	half := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / (1 + z*z/n)
	return max(0, center-half), min(1, center+half), true
}

// RoomKinds returns, per room, the number of distinct stored events of
// each counted kind (Table.RoomKind; the unique keys make rows
// distinct). Rooms with none are left out; present rooms list every
// counted kind.
func (d *DB) RoomKinds(ctx context.Context) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	for _, t := range registry {
		if t.RoomKind == "" {
			continue
		}
		rows, err := d.SQL.QueryContext(ctx, "SELECT room_id, count(*) FROM "+t.Name+" GROUP BY room_id")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var room, n int64
			if err := rows.Scan(&room, &n); err != nil {
				rows.Close()
				return nil, err
			}
			k := strconv.FormatInt(room, 10)
			if out[k] == nil {
				out[k] = map[string]int64{}
				for _, t2 := range registry {
					if t2.RoomKind != "" {
						out[k][t2.RoomKind] = 0
					}
				}
			}
			out[k][t.RoomKind] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RoomStats is one entry of Summary.Rooms: the counts of RoomKinds and
// the room's estimated coverage. Its JSON is one flat object:
// {"danmaku": N, …, "coverage": 0.93 | null}.
type RoomStats struct {
	Kinds    map[string]int64
	Coverage *float64 // nil: too few judged items (see MinCoverageSamples)
}

// MarshalJSON flattens the kinds and coverage into one object.
func (r RoomStats) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Kinds)+1)
	for k, n := range r.Kinds {
		m[k] = n
	}
	m["coverage"] = r.Coverage
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *RoomStats) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.Kinds, r.Coverage = map[string]int64{}, nil
	for k, v := range m {
		if k == "coverage" {
			if err := json.Unmarshal(v, &r.Coverage); err != nil {
				return err
			}
			continue
		}
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("rooms: %s: %w", k, err)
		}
		r.Kinds[k] = n
	}
	return nil
}

// RoomConnections is one room's connection history, summed over runs.
//
// Wanted time: per run in which the room had a connection, from the
// first discovery round that listed it (room_snapshots; else its first
// connection's start) to the end of its last connection (or of the run —
// runs.ended_ms — or, for a run that has not ended, now), summed over
// runs. It includes the first connect's spread and every reconnect gap.
// Connected time is authenticated time; a connection with no end
// ends with its run, or now.
type RoomConnections struct {
	RoomID         int64    `json:"room_id"`
	Connections    int64    `json:"connections"`
	Reconnects     int64    `json:"reconnects"`
	Connected      float64  `json:"connected_s"`     // authenticated time, seconds
	Wanted         float64  `json:"wanted_s"`        // see above, seconds
	ConnectedShare float64  `json:"connected_share"` // Connected / Wanted, at most 1; 0 when Wanted is 0
	Span           float64  `json:"span_s"`          // first connect to last end, seconds
	Coverage       *float64 `json:"coverage"`        // the room's estimated coverage, as in Summary.Coverage
	// CoverageInterval is its 95 % interval, as in Summary.CoverageInterval.
	CoverageInterval *[2]float64 `json:"coverage_interval"`
	HistSeen         int64       `json:"hist_seen"`    // Σ connections.hist_seen
	HistArrived      int64       `json:"hist_arrived"` // Σ connections.hist_arrived
	Anonymous        int64       `json:"anonymous"`    // connections without login
	Sampled          int64       `json:"sampled"`      // connections known to get a sample
	Acks             int64       `json:"acks"`
	Starved          int64       `json:"starved"` // connections recycled for silent throttling
	Stalled          int64       `json:"stalled"`
	BadFrames        int64       `json:"bad_frames"`
}

// Summary is what `danmakud stats` prints.
type Summary struct {
	Runs       int64                `json:"runs"`
	Rows       map[string]int64     `json:"rows"` // per table with Table.Stats
	RoomsSeen  int64                `json:"rooms_seen"`
	FirstMs    int64                `json:"first_recv_ms"`
	LastMs     int64                `json:"last_recv_ms"`
	Reconnects int64                `json:"reconnects"`
	Rooms      map[string]RoomStats `json:"rooms"` // rooms with stored events
	// Coverage is, per room with connections, the estimated share of its
	// danmaku that was stored: Σ hist_arrived / Σ hist_seen over its
	// connections (history danmaku judged while a connection was up),
	// times its connected share; nil (null) below MinCoverageSamples
	// judged items (CoverageEstimate).
	Coverage map[string]*float64 `json:"coverage"`
	// CoverageInterval is, per room with connections, the 95 % interval
	// [low, high] of its coverage: the Wilson interval of the history
	// share (CoverageInterval) times the connected share; given at any
	// number of judged items, nil (null) with none.
	CoverageInterval map[string]*[2]float64 `json:"coverage_interval"`
	// OverallCoverage and OverallCoverageInterval are the same over every
	// room (Σ over rooms).
	OverallCoverage         *float64          `json:"overall_coverage"`
	OverallCoverageInterval *[2]float64       `json:"overall_coverage_interval"`
	Connections             []RoomConnections `json:"connections"` // by room_id
	Unknown                 []UnknownCmd      `json:"unknown_commands"`
	Malformed               int64             `json:"malformed"`
	// NotStored is, per kind, the events collect received and did not
	// store (collect --kinds; unstored_events); absent when none.
	NotStored map[string]int64 `json:"not_stored,omitempty"`
}

// UnknownCmd is a command stored without a typed table.
type UnknownCmd struct {
	Cmd   string `json:"cmd"`
	Count int64  `json:"count"`
}

// coverage is the estimated share of a room's danmaku that was stored:
// arrived/seen (history danmaku judged while a connection was up) times
// the connected share (what was sent while none was up is lost), nil when
// CoverageEstimate cannot say; and its interval, the history share's
// (CoverageInterval) times the connected share, nil when nothing was
// judged.
func coverage(seen, arrived int64, connectedShare float64) (*float64, *[2]float64) {
	var est *float64
	if c, ok := CoverageEstimate(seen, arrived); ok {
		c *= connectedShare
		est = &c
	}
	lo, hi, ok := CoverageInterval(seen, arrived)
	if !ok {
		return est, nil
	}
	return est, &[2]float64{lo * connectedShare, hi * connectedShare}
}

// Summarize computes the stats summary. It reads files of every schema
// version (stats opens them read-only, unmigrated): what an older file
// lacks counts as absent or zero.
func (d *DB) Summarize(ctx context.Context) (*Summary, error) {
	return SummarizeFiles(ctx, []*DB{d})
}

// SummarizeFiles computes the stats summary of several files read as one
// dataset (OpenSet checks that they may be): rows, runs, unknown commands
// and per-room counts are summed, and each room's coverage is computed
// from its judged and arrived history danmaku and its connected and
// wanted time summed over the files. The files must not hold the same
// events (shards, rotated files; a copy or a file merged into another is
// refused by OpenSet): stored events are counted in each. One file gives
// exactly what Summarize gives.
func SummarizeFiles(ctx context.Context, dbs []*DB) (*Summary, error) {
	return summarizeFiles(ctx, dbs, time.Now().UnixMilli())
}

func (d *DB) summarize(ctx context.Context, now int64) (*Summary, error) {
	return summarizeFiles(ctx, []*DB{d}, now)
}

func summarizeFiles(ctx context.Context, dbs []*DB, now int64) (*Summary, error) {
	t := newTally()
	for _, d := range dbs {
		if err := d.tally(ctx, now, t); err != nil {
			return nil, d.Explain(err)
		}
	}
	return t.summary(), nil
}

// tally is the sums that a summary is made from, over one file or
// several.
type tally struct {
	s       *Summary
	kinds   map[string]map[string]int64
	rooms   map[int64]bool // rooms with connections
	listed  map[int64]bool // rooms in the rooms tables
	conns   map[int64]*roomTally
	unknown map[string]int64
}

// roomTally is one room's connection sums (RoomConnections before its
// shares are computed).
type roomTally struct {
	c               RoomConnections
	connMs, wantMs  int64
	firstMs, lastMs int64
}

func newTally() *tally {
	return &tally{s: &Summary{Rows: map[string]int64{}, Rooms: map[string]RoomStats{}, Coverage: map[string]*float64{},
		CoverageInterval: map[string]*[2]float64{}},
		kinds: map[string]map[string]int64{}, rooms: map[int64]bool{}, listed: map[int64]bool{}, conns: map[int64]*roomTally{}, unknown: map[string]int64{}}
}

// tally adds the file's counts to t; now stands for the end of what has
// not ended.
func (d *DB) tally(ctx context.Context, now int64, t *tally) error {
	s := t.s
	q := func(query string, dst ...any) error {
		return d.SQL.QueryRowContext(ctx, query).Scan(dst...)
	}
	have, err := d.schemaColumns(ctx)
	if err != nil {
		return err
	}
	var recv []string
	for _, tab := range registry {
		if !have[tab.Name] {
			continue // a file from an older schema
		}
		if tab.Stats {
			var n int64
			if err := q("SELECT count(*) FROM "+tab.Name, &n); err != nil {
				return fmt.Errorf("storage: count %s: %w", tab.Name, err)
			}
			s.Rows[tab.Name] += n
		}
		if len(tab.Kinds) > 0 && have[tab.Name+".recv_ms"] {
			recv = append(recv, "SELECT min(recv_ms) m, max(recv_ms) x FROM "+tab.Name)
		}
	}
	var runs int64
	if err := q("SELECT count(*) FROM runs", &runs); err != nil {
		return err
	}
	s.Runs += runs
	var first, last sql.NullInt64
	if err := q("SELECT min(m), max(x) FROM ("+strings.Join(recv, " UNION ALL ")+")", &first, &last); err != nil {
		return err
	}
	if first.Valid && (s.FirstMs == 0 || first.Int64 < s.FirstMs) {
		s.FirstMs = first.Int64
	}
	if last.Valid && last.Int64 > s.LastMs {
		s.LastMs = last.Int64
	}
	kinds, err := d.RoomKinds(ctx)
	if err != nil {
		return err
	}
	for room, k := range kinds {
		if t.kinds[room] == nil {
			t.kinds[room] = map[string]int64{}
		}
		for kind, n := range k {
			t.kinds[room][kind] += n
		}
	}
	if err := d.roomConnections(ctx, now, have, t); err != nil {
		return err
	}
	return d.tallyOthers(ctx, have, t)
}

// tallyOthers adds the rooms listed, the unknown commands and the
// events not stored.
func (d *DB) tallyOthers(ctx context.Context, have map[string]bool, t *tally) error {
	rrows, err := d.SQL.QueryContext(ctx, "SELECT room_id FROM rooms")
	if err != nil {
		return err
	}
	defer rrows.Close()
	for rrows.Next() {
		var id int64
		if err := rrows.Scan(&id); err != nil {
			return err
		}
		t.listed[id] = true
	}
	if err := rrows.Err(); err != nil {
		return err
	}
	urows, err := d.SQL.QueryContext(ctx, "SELECT cmd, count FROM unknown_commands")
	if err != nil {
		return err
	}
	defer urows.Close()
	for urows.Next() {
		var u UnknownCmd
		if err := urows.Scan(&u.Cmd, &u.Count); err != nil {
			return err
		}
		t.unknown[u.Cmd] += u.Count
	}
	if err := urows.Err(); err != nil {
		return err
	}
	if !have[tUnstored.Name] {
		return nil
	}
	rows, err := d.SQL.QueryContext(ctx, "SELECT kind, sum(count) FROM unstored_events GROUP BY kind")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var n int64
		if err := rows.Scan(&kind, &n); err != nil {
			return err
		}
		if t.s.NotStored == nil {
			t.s.NotStored = map[string]int64{}
		}
		t.s.NotStored[kind] += n
	}
	return rows.Err()
}

// schemaColumns names the file's tables and views, and their columns as
// "table.column".
func (d *DB) schemaColumns(ctx context.Context) (map[string]bool, error) {
	have := map[string]bool{}
	rows, err := d.SQL.QueryContext(ctx, "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type IN ('table', 'view')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var tab, col string
		if err := rows.Scan(&tab, &col); err != nil {
			return nil, err
		}
		have[tab], have[tab+"."+col] = true, true
	}
	return have, rows.Err()
}

// summary computes the shares and estimates from the sums.
func (t *tally) summary() *Summary {
	s := t.s
	// A room and a command are one row however many files know them
	// (as in a merge of the files).
	s.Rows[tRooms.Name], s.Rows[tUnknown.Name] = int64(len(t.listed)), int64(len(t.unknown))
	s.Malformed = s.Rows["malformed"]
	s.RoomsSeen = int64(len(t.rooms))
	ids := make([]int64, 0, len(t.conns))
	for id := range t.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var seen, arrived int64
	var connected, wanted float64
	for _, id := range ids {
		r := t.conns[id]
		c := r.c
		c.Reconnects = c.Connections - 1
		c.Connected = float64(r.connMs) / 1000
		c.Span = float64(r.lastMs-r.firstMs) / 1000
		c.Wanted = float64(r.wantMs) / 1000
		if c.Wanted > 0 {
			c.ConnectedShare = min(1, c.Connected/c.Wanted)
		}
		c.Coverage, c.CoverageInterval = coverage(c.HistSeen, c.HistArrived, c.ConnectedShare)
		s.Connections = append(s.Connections, c)
		s.Reconnects += c.Reconnects
		room := strconv.FormatInt(c.RoomID, 10)
		s.Coverage[room], s.CoverageInterval[room] = c.Coverage, c.CoverageInterval
		seen += c.HistSeen
		arrived += c.HistArrived
		connected += c.Connected
		wanted += c.Wanted
	}
	share := 0.0
	if wanted > 0 {
		share = min(1, connected/wanted)
	}
	s.OverallCoverage, s.OverallCoverageInterval = coverage(seen, arrived, share)
	for room, k := range t.kinds {
		s.Rooms[room] = RoomStats{Kinds: k, Coverage: s.Coverage[room]}
	}
	for cmd, n := range t.unknown {
		s.Unknown = append(s.Unknown, UnknownCmd{Cmd: cmd, Count: n})
	}
	slices.SortFunc(s.Unknown, func(a, b UnknownCmd) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Cmd, b.Cmd)
	})
	return s
}

// roomConnections adds the file's connections per room to t; now stands
// for the end of what has not ended (see RoomConnections).
func (d *DB) roomConnections(ctx context.Context, now int64, have map[string]bool, t *tally) error {
	col := func(name string) string {
		if have["connections."+name] {
			return "coalesce(sum(c." + name + "), 0)"
		}
		return "0" // schema < 3
	}
	room := func(id int64) *roomTally {
		r := t.conns[id]
		if r == nil {
			r = &roomTally{c: RoomConnections{RoomID: id}, firstMs: math.MaxInt64, lastMs: math.MinInt64}
			t.conns[id] = r
		}
		return r
	}
	// Wanted, per run: from the first discovery round that listed the
	// room (or its first connection) to its last connection's end (or
	// the run's end, or now).
	wrows, err := d.SQL.QueryContext(ctx, `SELECT c.room_id, sum(max(0, c.last - min(c.first, coalesce(s.first_at, c.first))))
 FROM (SELECT c.room_id, c.run_id, min(c.started_ms) first, max(coalesce(c.ended_ms, r.ended_ms, ?1)) last
       FROM connections c LEFT JOIN runs r ON r.id = c.run_id GROUP BY c.room_id, c.run_id) c
 LEFT JOIN (SELECT room_id, run_id, min(at_ms) first_at FROM room_snapshots GROUP BY room_id, run_id) s
   ON s.room_id = c.room_id AND s.run_id = c.run_id
 GROUP BY c.room_id`, now)
	if err != nil {
		return err
	}
	for wrows.Next() {
		var id, ms int64
		if err := wrows.Scan(&id, &ms); err != nil {
			wrows.Close()
			return err
		}
		room(id).wantMs += ms
	}
	wrows.Close()
	if err := wrows.Err(); err != nil {
		return err
	}
	rows, err := d.SQL.QueryContext(ctx, `SELECT c.room_id, count(*),
  coalesce(sum(CASE WHEN c.authed_ms IS NULL THEN 0 ELSE max(0, coalesce(c.ended_ms, r.ended_ms, ?1) - c.authed_ms) END), 0),
  min(c.started_ms), max(coalesce(c.ended_ms, r.ended_ms, ?1)),
  coalesce(sum(c.end_reason LIKE 'starved%'), 0), coalesce(sum(c.end_reason LIKE 'stalled%'), 0), coalesce(sum(c.bad_frames), 0),
  `+col("hist_seen")+`, `+col("hist_arrived")+`, `+col("anonymous")+`, `+col("sampled")+`, `+col("acks")+`
 FROM connections c LEFT JOIN runs r ON r.id = c.run_id GROUP BY c.room_id ORDER BY c.room_id`, now)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, n, connMs, firstMs, lastMs, starved, stalled, bad, seen, arrived, anon, sampled, acks int64
		if err := rows.Scan(&id, &n, &connMs, &firstMs, &lastMs, &starved, &stalled, &bad, &seen, &arrived, &anon, &sampled, &acks); err != nil {
			return err
		}
		t.rooms[id] = true
		r := room(id)
		r.c.Connections += n
		r.connMs += connMs
		r.firstMs, r.lastMs = min(r.firstMs, firstMs), max(r.lastMs, lastMs)
		r.c.Starved += starved
		r.c.Stalled += stalled
		r.c.BadFrames += bad
		r.c.HistSeen += seen
		r.c.HistArrived += arrived
		r.c.Anonymous += anon
		r.c.Sampled += sampled
		r.c.Acks += acks
	}
	return rows.Err()
}
