package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Activity is what a database says about the collection over time, for
// the HTML report (Summarize has the counts): events per minute, every
// connection's authenticated span, the runs, money and the rooms'
// metadata. Reading it scans each event table once.
type Activity struct {
	// PerMinute is, per event table (Table.Name), the rows received in
	// each unix minute (recv_ms / 60000).
	PerMinute map[string]map[int64]int64
	// Spans are the authenticated connections: from auth to their end
	// (or their run's end, or now).
	Spans []ConnSpan
	Runs  []RunSpan
	// Money is, per room, what its gifts, super chats and guards paid.
	Money map[int64]Money
	// Rooms is the rooms table: the last title, streamer and area seen.
	Rooms map[int64]RoomInfo
}

// ConnSpan is one connection's authenticated time, unix ms.
type ConnSpan struct {
	RoomID, FromMs, ToMs int64
	Anonymous, Sampled   bool
}

// RunSpan is one collection run, unix ms (ToMs: its end, or now).
type RunSpan struct {
	ID, FromMs, ToMs int64
	Status           string
}

// Money is what a room's viewers paid, in the units the tables keep:
// gift and guard prices in gold coins (1000 = 1 CNY), super chats in CNY.
type Money struct {
	GiftGold   int64 // gifts paid now: gold, not from the backpack (Σ total_coin)
	BagGold    int64 // backpack gifts: paid earlier, their full price
	Gifts      int64 // gift rows paid in gold (not from the backpack)
	SuperChat  int64 // Σ super_chats.price, CNY
	SuperChats int64
	GuardGold  int64 // Σ guards.price
	Guards     int64
}

// Add returns m + o.
func (m Money) Add(o Money) Money {
	return Money{m.GiftGold + o.GiftGold, m.BagGold + o.BagGold, m.Gifts + o.Gifts, m.SuperChat + o.SuperChat,
		m.SuperChats + o.SuperChats, m.GuardGold + o.GuardGold, m.Guards + o.Guards}
}

// Activity reads the database's Activity. Like Summarize it reads files
// of every schema version: what an older file lacks is absent or zero.
func (d *DB) Activity(ctx context.Context) (*Activity, error) {
	a := &Activity{PerMinute: map[string]map[int64]int64{}, Money: map[int64]Money{}, Rooms: map[int64]RoomInfo{}}
	have, err := d.columns(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range registry {
		if len(t.Kinds) == 0 || !have[t.Name+".recv_ms"] {
			continue
		}
		m := map[int64]int64{}
		err := d.scan(ctx, func(r *sql.Rows) error {
			var minute, n int64
			err := r.Scan(&minute, &n)
			m[minute] = n
			return err
		}, "SELECT recv_ms / 60000, count(*) FROM "+t.Name+" GROUP BY 1")
		if err != nil {
			return nil, fmt.Errorf("storage: %s per minute: %w", t.Name, err)
		}
		a.PerMinute[t.Name] = m
	}
	now := time.Now().UnixMilli()
	if err := d.spans(ctx, a, have, now); err != nil {
		return nil, err
	}
	if err := d.money(ctx, a, have); err != nil {
		return nil, err
	}
	err = d.scan(ctx, func(r *sql.Rows) error {
		var ri RoomInfo
		err := r.Scan(&ri.RoomID, &ri.ShortID, &ri.Title, &ri.AnchorName, &ri.AreaName, &ri.ParentAreaName)
		a.Rooms[ri.RoomID] = ri
		return err
	}, "SELECT room_id, short_id, title, anchor_name, area_name, parent_area_name FROM rooms")
	return a, err
}

// spans reads the runs and the connections' authenticated spans.
func (d *DB) spans(ctx context.Context, a *Activity, have map[string]bool, now int64) error {
	err := d.scan(ctx, func(r *sql.Rows) error {
		var s RunSpan
		err := r.Scan(&s.ID, &s.FromMs, &s.ToMs, &s.Status)
		a.Runs = append(a.Runs, s)
		return err
	}, "SELECT id, started_ms, coalesce(ended_ms, ?1), coalesce(exit_status, '') FROM runs ORDER BY id", now)
	if err != nil {
		return fmt.Errorf("storage: runs: %w", err)
	}
	flag := func(c string) string {
		if have["connections."+c] {
			return "c." + c
		}
		return "0"
	}
	err = d.scan(ctx, func(r *sql.Rows) error {
		var s ConnSpan
		err := r.Scan(&s.RoomID, &s.FromMs, &s.ToMs, &s.Anonymous, &s.Sampled)
		a.Spans = append(a.Spans, s)
		return err
	}, `SELECT c.room_id, c.authed_ms, max(c.authed_ms, coalesce(c.ended_ms, r.ended_ms, ?1)), `+flag("anonymous")+`, `+flag("sampled")+`
 FROM connections c LEFT JOIN runs r ON r.id = c.run_id WHERE c.authed_ms IS NOT NULL ORDER BY c.authed_ms`, now)
	if err != nil {
		return fmt.Errorf("storage: connections: %w", err)
	}
	return nil
}

// money reads each room's gifts, super chats and guards.
func (d *DB) money(ctx context.Context, a *Activity, have map[string]bool) error {
	bag := "0"
	if have["gifts.bag_gift"] {
		bag = "bag_gift"
	}
	queries := []struct {
		q   string
		add func(m *Money, v, n, w int64)
	}{
		{"SELECT room_id, coalesce(sum(CASE WHEN " + bag + " = 0 THEN total_coin END), 0), coalesce(sum(" + bag + " = 0), 0), coalesce(sum(CASE WHEN " + bag + " <> 0 THEN total_coin END), 0) FROM gifts WHERE coin_type = 'gold' GROUP BY room_id",
			func(m *Money, v, n, w int64) { m.GiftGold, m.Gifts, m.BagGold = v, n, w }},
		{"SELECT room_id, coalesce(sum(price), 0), count(*), 0 FROM super_chats GROUP BY room_id",
			func(m *Money, v, n, _ int64) { m.SuperChat, m.SuperChats = v, n }},
		{"SELECT room_id, coalesce(sum(price), 0), count(*), 0 FROM guards GROUP BY room_id",
			func(m *Money, v, n, _ int64) { m.GuardGold, m.Guards = v, n }},
	}
	for _, q := range queries {
		err := d.scan(ctx, func(r *sql.Rows) error {
			var room, v, n, w int64
			err := r.Scan(&room, &v, &n, &w)
			m := a.Money[room]
			q.add(&m, v, n, w)
			a.Money[room] = m
			return err
		}, q.q)
		if err != nil {
			return fmt.Errorf("storage: money: %w", err)
		}
	}
	return nil
}

// columns is every "table" and "table.column" of the file's tables and
// views.
func (d *DB) columns(ctx context.Context) (map[string]bool, error) {
	have := map[string]bool{}
	err := d.scan(ctx, func(r *sql.Rows) error {
		var tab, col string
		err := r.Scan(&tab, &col)
		have[tab], have[tab+"."+col] = true, true
		return err
	}, "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type IN ('table', 'view')")
	return have, err
}

// scan runs query and calls row for each row.
func (d *DB) scan(ctx context.Context, row func(*sql.Rows) error, query string, args ...any) error {
	rows, err := d.SQL.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Activity is every file's Activity added up (the files of a Set hold
// distinct events: OpenSet refuses copies and files merged twice).
// Errors name the file.
func (s *Set) Activity(ctx context.Context) (*Activity, error) {
	var all *Activity
	for _, d := range s.DBs {
		a, err := d.Activity(ctx)
		if err != nil {
			return nil, d.Explain(err)
		}
		if all == nil {
			all = a
			continue
		}
		all.add(a)
	}
	return all, nil
}

// add adds o into a; a room's metadata is the later file's.
func (a *Activity) add(o *Activity) {
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
