package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// TimelineKind says what a TimelineItem is.
type TimelineKind uint8

// Timeline item kinds, and the tables they come from.
const (
	TLDanmaku   TimelineKind = iota // danmaku
	TLGift                          // gifts
	TLSuperChat                     // super_chats
	TLGuard                         // guards
	TLLive                          // room_events, cmd LIVE
	TLPreparing                     // room_events, cmd PREPARING (also a rotation's)
)

// TimelineItem is one row of a room's merged timeline (ScanTimeline).
type TimelineItem struct {
	Kind           TimelineKind
	RoomID, RecvMs int64
	TsMs           int64 // the server's time; 0 when unknown
	UID            int64 // 0 when masked
	Uname          string
	// Text: the danmaku, the gift's name, the SC's message; for
	// TLLive/TLPreparing the status.
	Text string
	// A, B, C by kind — danmaku: mode, font_size, color; gift: num,
	// price (per unit, coins), total_coin; SC: price (CNY), duration_s;
	// guard: guard_level, num, price (gold).
	A, B, C  int64
	CoinType string // gifts: "gold" or "silver"
}

// TimelineKinds selects the event tables of a timeline; LIVE and
// PREPARING room events are always in it.
type TimelineKinds struct{ Danmaku, Gifts, SuperChats, Guards bool }

// ScanTimeline calls fn for every danmaku, gift, super chat and guard
// purchase that f selects, and every LIVE and PREPARING room event,
// ordered by room, then receive time, then the order above. Rows are
// read one at a time (SQLite sorts, spilling to temporary files when
// large); it is reused between calls.
func (d *DB) ScanTimeline(ctx context.Context, f ExportFilter, k TimelineKinds, fn func(it *TimelineItem) error) error {
	var arms []string
	var args []any
	// Each arm reads a stored table (rowid orders it); {recv} is where its
	// receive time goes (a table may store it as a delta).
	add := func(on bool, t *Table, sel, extra string) {
		if !on {
			return
		}
		recv := t.readExpr("recv_ms")
		w, wargs := f.where("room_id", recv)
		if extra != "" {
			if w == "" {
				w = " WHERE " + extra
			} else {
				w += " AND " + extra
			}
		}
		arms = append(arms, "SELECT "+strings.ReplaceAll(sel, "{recv}", recv)+", rowid FROM "+t.Stored()+w)
		args = append(args, wargs...)
	}
	add(k.Danmaku, tDanmaku, "0, room_id, {recv}, ts_ms, uid, uname, text, mode, font_size, color, ''", "")
	add(k.Gifts, tGifts, "1, room_id, {recv}, ts_ms, uid, uname, gift_name, num, price, total_coin, coin_type", "")
	add(k.SuperChats, tSuperChats, "2, room_id, {recv}, ts_ms, uid, uname, message, price, duration_s, 0, ''", "")
	add(k.Guards, tGuards, "3, room_id, {recv}, ts_ms, uid, uname, '', guard_level, num, price, ''", "")
	cmd := tRoomEvents.readExpr("cmd")
	add(true, tRoomEvents, "CASE "+cmd+" WHEN 'LIVE' THEN 4 ELSE 5 END, room_id, {recv}, ts_ms, 0, '', status, 0, 0, 0, ''",
		cmd+" IN ('LIVE', 'PREPARING')")
	q := strings.Join(arms, " UNION ALL ") + " ORDER BY 2, 3, 1, 12"
	rows, err := d.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("storage: read timeline: %w", err)
	}
	defer rows.Close()
	var it TimelineItem
	var rowid int64
	for rows.Next() {
		if err := rows.Scan(&it.Kind, &it.RoomID, &it.RecvMs, &it.TsMs, &it.UID, &it.Uname, &it.Text, &it.A, &it.B, &it.C,
			&it.CoinType, &rowid); err != nil {
			return fmt.Errorf("storage: read timeline: %w", err)
		}
		if err := fn(&it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: read timeline: %w", err)
	}
	return nil
}

// RoomInfo is what the rooms table knows of a room.
type RoomInfo struct {
	RoomID, ShortID                             int64
	AnchorName, Title, AreaName, ParentAreaName string
}

// Room returns what the rooms table knows of a room; a room it does not
// list comes back with only RoomID set.
func (d *DB) Room(ctx context.Context, roomID int64) (RoomInfo, error) {
	r := RoomInfo{RoomID: roomID}
	err := d.SQL.QueryRowContext(ctx, `SELECT short_id, anchor_name, title, area_name, parent_area_name FROM rooms WHERE room_id = ?`, roomID).
		Scan(&r.ShortID, &r.AnchorName, &r.Title, &r.AreaName, &r.ParentAreaName)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("storage: room %d: %w", roomID, err)
	}
	return r, nil
}
