package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// KindTables maps the counted event kinds to their tables.
var KindTables = []struct{ Kind, Table string }{
	{"danmaku", "danmaku"}, {"gift", "gifts"}, {"super_chat", "super_chats"}, {"guard", "guards"}, {"interact", "interactions"},
}

// RoomKinds returns, per room, the number of distinct stored events of
// each counted kind (the unique keys make rows distinct). Rooms with none
// are left out; present rooms list all five kinds.
func (d *DB) RoomKinds(ctx context.Context) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	for _, kt := range KindTables {
		rows, err := d.SQL.QueryContext(ctx, "SELECT room_id, count(*) FROM "+kt.Table+" GROUP BY room_id")
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
				for _, kt2 := range KindTables {
					out[k][kt2.Kind] = 0
				}
			}
			out[k][kt.Kind] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RoomCoverage is one room's connection history.
type RoomCoverage struct {
	RoomID      int64   `json:"room_id"`
	Connections int64   `json:"connections"`
	Reconnects  int64   `json:"reconnects"`
	Connected   float64 `json:"connected_s"` // authenticated time, seconds
	Span        float64 `json:"span_s"`      // first connect to last end, seconds
	Coverage    float64 `json:"coverage"`    // Connected / Span
	Starved     int64   `json:"starved"`     // connections recycled for silent throttling
	Stalled     int64   `json:"stalled"`
	BadFrames   int64   `json:"bad_frames"`
}

// Summary is what `danmakud stats` prints.
type Summary struct {
	Runs       int64                       `json:"runs"`
	Rows       map[string]int64            `json:"rows"`
	RoomsSeen  int64                       `json:"rooms_seen"`
	FirstMs    int64                       `json:"first_recv_ms"`
	LastMs     int64                       `json:"last_recv_ms"`
	Reconnects int64                       `json:"reconnects"`
	Rooms      map[string]map[string]int64 `json:"rooms"`
	Coverage   []RoomCoverage              `json:"coverage"`
	Unknown    []UnknownCmd                `json:"unknown_commands"`
	Malformed  int64                       `json:"malformed"`
}

// UnknownCmd is a command stored without a typed table.
type UnknownCmd struct {
	Cmd   string `json:"cmd"`
	Count int64  `json:"count"`
}

var summaryTables = []string{"danmaku", "gifts", "super_chats", "guards", "interactions", "counters", "room_events", "combos",
	"connections", "room_snapshots", "rooms", "malformed", "raw_messages"}

// Summarize computes the stats summary.
func (d *DB) Summarize(ctx context.Context) (*Summary, error) {
	s := &Summary{Rows: map[string]int64{}}
	q := func(query string, dst ...any) error {
		return d.SQL.QueryRowContext(ctx, query).Scan(dst...)
	}
	have := map[string]bool{}
	trows, err := d.SQL.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		return nil, err
	}
	for trows.Next() {
		var name string
		if err := trows.Scan(&name); err != nil {
			trows.Close()
			return nil, err
		}
		have[name] = true
	}
	trows.Close()
	for _, t := range summaryTables {
		var n int64
		if !have[t] {
			continue // a file from an older schema (stats opens it read-only)
		}
		if err := q("SELECT count(*) FROM "+t, &n); err != nil {
			return nil, fmt.Errorf("storage: count %s: %w", t, err)
		}
		s.Rows[t] = n
	}
	s.Malformed = s.Rows["malformed"]
	if err := q("SELECT count(*) FROM runs", &s.Runs); err != nil {
		return nil, err
	}
	var first, last sql.NullInt64
	if err := q(`SELECT min(m), max(x) FROM (
  SELECT min(recv_ms) m, max(recv_ms) x FROM danmaku UNION ALL SELECT min(recv_ms), max(recv_ms) FROM interactions
  UNION ALL SELECT min(recv_ms), max(recv_ms) FROM gifts UNION ALL SELECT min(recv_ms), max(recv_ms) FROM counters)`, &first, &last); err != nil {
		return nil, err
	}
	s.FirstMs, s.LastMs = first.Int64, last.Int64
	if s.Rooms, err = d.RoomKinds(ctx); err != nil {
		return nil, err
	}
	if err := q("SELECT count(DISTINCT room_id) FROM connections", &s.RoomsSeen); err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	rows, err := d.SQL.QueryContext(ctx, `SELECT room_id, count(*),
  sum(CASE WHEN authed_ms IS NULL THEN 0 ELSE coalesce(ended_ms, ?) - authed_ms END),
  min(started_ms), max(coalesce(ended_ms, ?)),
  coalesce(sum(end_reason LIKE 'starved%'), 0), coalesce(sum(end_reason LIKE 'stalled%'), 0), coalesce(sum(bad_frames), 0)
 FROM connections GROUP BY room_id ORDER BY room_id`, now, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c RoomCoverage
		var connMs, firstMs, lastMs int64
		if err := rows.Scan(&c.RoomID, &c.Connections, &connMs, &firstMs, &lastMs, &c.Starved, &c.Stalled, &c.BadFrames); err != nil {
			return nil, err
		}
		c.Reconnects = c.Connections - 1
		c.Connected = float64(connMs) / 1000
		c.Span = float64(lastMs-firstMs) / 1000
		if c.Span > 0 {
			c.Coverage = min(1, c.Connected/c.Span)
		}
		s.Reconnects += c.Reconnects
		s.Coverage = append(s.Coverage, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	urows, err := d.SQL.QueryContext(ctx, "SELECT cmd, count FROM unknown_commands ORDER BY count DESC, cmd")
	if err != nil {
		return nil, err
	}
	defer urows.Close()
	for urows.Next() {
		var u UnknownCmd
		if err := urows.Scan(&u.Cmd, &u.Count); err != nil {
			return nil, err
		}
		s.Unknown = append(s.Unknown, u)
	}
	return s, urows.Err()
}
