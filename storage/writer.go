package storage

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/protocol"
)

// Record is anything the writer stores. The concrete types are Event,
// Conn, Snapshot, RoomMeta, Raw and Malformed.
type Record interface{ roomKey() int64 }

// Event is a decoded event and when it was received (unix ms).
type Event struct {
	E      protocol.Event
	RecvMs int64
}

// Conn is the state of one connection; the latest record for (run, seq)
// wins, so a worker sends one at auth and one at the end.
type Conn struct {
	Seq                          int64
	RoomID                       int64
	Host                         string
	StartedMs, AuthedMs, EndedMs int64 // 0 = not (yet)
	EndReason                    string
	Frames, Events, Bytes, Bad   int64
}

// Snapshot is one room in one discovery round.
type Snapshot struct {
	Round          int
	AtMs           int64
	RoomID         int64
	Rank           int
	Online         int64
	Watched        int64
	Desired, Fixed bool
	Absent         int
}

// RoomMeta is what the lists or room_init said about a room.
type RoomMeta struct {
	RoomID, ShortID, AnchorUID int64
	AnchorName, Title          string
	AreaID                     int64
	AreaName                   string
	ParentAreaID               int64
	ParentAreaName             string
	SeenMs                     int64
}

// Raw is one command body exactly as received (collect --raw), so a
// later parser can re-derive every table.
type Raw struct {
	RoomID, RecvMs int64
	Cmd            string
	Body           []byte
}

// Malformed is input that could not be decoded: kept, never dropped.
type Malformed struct {
	RoomID, RecvMs int64
	Reason         string
	Body           []byte
}

func (e Event) roomKey() int64     { return e.E.Common().RoomID }
func (c Conn) roomKey() int64      { return c.RoomID }
func (s Snapshot) roomKey() int64  { return s.RoomID }
func (r RoomMeta) roomKey() int64  { return r.RoomID }
func (m Malformed) roomKey() int64 { return m.RoomID }
func (r Raw) roomKey() int64       { return r.RoomID }

// WriterOptions tune the single writer. Zero values mean the defaults.
type WriterOptions struct {
	RunID         int64
	FlushInterval time.Duration // default 10s
	// BatchMax flushes early when this many records wait; default 20,000.
	BatchMax int
	Logger   *slog.Logger
}

// WriterStats are running totals, safe to read at any time.
type WriterStats struct {
	Rows    atomic.Int64 // rows inserted or updated (duplicates ignored are not counted)
	Records atomic.Int64 // records received
	Dups    atomic.Int64 // records the schema's unique keys ignored as duplicates
	Flushes atomic.Int64
	Errors  atomic.Int64
}

// Writer is the single goroutine that owns all writes.
type Writer struct {
	db    *DB
	opts  WriterOptions
	log   *slog.Logger
	Stats WriterStats
}

// NewWriter returns a writer for db.
func NewWriter(db *DB, opts WriterOptions) *Writer {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Second
	}
	if opts.BatchMax <= 0 {
		opts.BatchMax = 20000
	}
	w := &Writer{db: db, opts: opts, log: opts.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w
}

// Run drains in, committing one transaction per flush: every
// FlushInterval, or when BatchMax records wait. It returns after in is
// closed (by its owner) and the final flush is done, or when hard is
// cancelled (then the pending batch is lost and the error says how many
// records). A failed flush is retried on the next trigger with the same
// records; nothing is dropped while the database can be written.
func (w *Writer) Run(hard context.Context, in <-chan Record) error {
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	var batch []Record
	var failing int
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := w.flush(hard, batch); err != nil {
			failing++
			w.Stats.Errors.Add(1)
			if failing == 1 || failing%10 == 0 {
				w.log.Error("flush failed; keeping the batch and retrying", "records", len(batch), "err", err, "failures", failing)
			}
			return
		}
		if failing > 0 {
			w.log.Info("flushes recovered", "after_failures", failing)
		}
		failing = 0
		batch = batch[:0]
	}
	for {
		select {
		case <-hard.Done():
			if len(batch) > 0 {
				return fmt.Errorf("storage: stopped before the final flush: %d records not written", len(batch))
			}
			return nil
		case r, ok := <-in:
			if !ok {
				flush()
				if len(batch) > 0 {
					return fmt.Errorf("storage: final flush failed: %d records not written", len(batch))
				}
				return nil
			}
			w.Stats.Records.Add(1)
			batch = append(batch, r)
			// Past the cap, flush; while flushes fail the batch keeps
			// growing and producers feel it through the full channel.
			if len(batch) >= w.opts.BatchMax && (failing == 0 || len(batch)%w.opts.BatchMax == 0) {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

// table orders records for locality: one statement at a time, rooms in
// order.
func table(r Record) int {
	switch r := r.(type) {
	case Event:
		switch r.E.Common().Kind {
		case protocol.KindDanmaku:
			return 1
		case protocol.KindInteract:
			return 2
		case protocol.KindGift:
			return 3
		case protocol.KindCounter:
			return 4
		}
		return 5
	case Conn:
		return 6
	case Snapshot:
		return 7
	case RoomMeta:
		return 8
	case Raw:
		return 9
	}
	return 10
}

func (w *Writer) flush(ctx context.Context, batch []Record) (err error) {
	start := time.Now()
	sorted := make([]Record, len(batch))
	copy(sorted, batch)
	sort.SliceStable(sorted, func(i, j int) bool {
		ti, tj := table(sorted[i]), table(sorted[j])
		if ti != tj {
			return ti < tj
		}
		return sorted[i].roomKey() < sorted[j].roomKey()
	})
	tx, err := w.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	st := newStmts(tx)
	defer st.close()
	var rows, dups int64
	for _, r := range sorted {
		n, err := st.put(w.opts.RunID, r)
		if err != nil {
			return err
		}
		if n == 0 && deduplicated(r) {
			dups++
		}
		rows += n
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.Stats.Rows.Add(rows)
	w.Stats.Dups.Add(dups)
	w.Stats.Flushes.Add(1)
	w.log.Debug("flushed", "records", len(batch), "rows", rows, "took", time.Since(start))
	return nil
}

// deduplicated reports whether r goes to a table with a unique event key.
func deduplicated(r Record) bool {
	e, ok := r.(Event)
	if !ok {
		return false
	}
	switch e.E.(type) {
	case *protocol.Danmaku, *protocol.Gift, *protocol.SuperChat, *protocol.Guard, *protocol.Interact:
		return true
	}
	return false
}

// stmts prepares each statement once per transaction, on first use.
type stmts struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

func newStmts(tx *sql.Tx) *stmts { return &stmts{tx: tx, m: map[string]*sql.Stmt{}} }

func (s *stmts) close() {
	for _, st := range s.m {
		st.Close()
	}
}

func (s *stmts) exec(q string, args ...any) (int64, error) {
	st, ok := s.m[q]
	if !ok {
		var err error
		st, err = s.tx.Prepare(q)
		if err != nil {
			return 0, err
		}
		s.m[q] = st
	}
	res, err := st.Exec(args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DanmakuKey is the danmaku's dedup key: its id_str, or for messages
// without one (before 2023) a digest of what identifies it.
func DanmakuKey(d *protocol.Danmaku) string {
	if d.IDStr != "" {
		return d.IDStr
	}
	return "x:" + strconv.FormatInt(d.TsMs, 10) + ":" + d.MidHash + ":" + strconv.FormatInt(d.Rnd, 10) + ":" +
		strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(d.Text))), 16)
}

// GiftKey is a gift's dedup key: its tid, which SEND_GIFT and SEND_GIFT_V2
// share, or a digest when a message has none.
func GiftKey(g *protocol.Gift) string {
	if g.TID != "" {
		return g.TID
	}
	return "x:" + strconv.FormatInt(g.UID, 10) + ":" + strconv.FormatInt(g.GiftID, 10) + ":" + strconv.FormatInt(g.TsMs, 10) + ":" + strconv.FormatInt(g.Num, 10)
}

// GuardKey identifies a guard purchase across GUARD_BUY, USER_TOAST_MSG
// and USER_TOAST_MSG_V2, which share no id: buyer, level and start time.
// A message without start_time falls back to its payflow id, then to its
// own time, so that distinct purchases never share a key.
func GuardKey(g *protocol.Guard) string {
	at := g.StartTime
	if at == 0 {
		if g.PayflowID != "" {
			return "p:" + g.PayflowID
		}
		at = g.TsMs
	}
	return strconv.FormatInt(g.UID, 10) + ":" + strconv.FormatInt(g.GuardLevel, 10) + ":" + strconv.FormatInt(at, 10)
}

// InteractKey is an interaction's dedup key: its nanosecond trigger_time
// (unique per room) and type. Like clicks carry no id or time; they get
// NULL, which UNIQUE does not constrain (see the README).
func InteractKey(e *protocol.Interact) any {
	if e.TriggerTimeNs == 0 {
		return nil
	}
	return strconv.FormatInt(e.TriggerTimeNs, 10) + ":" + strconv.FormatInt(e.MsgType, 10)
}

const (
	qDanmaku = `INSERT OR IGNORE INTO danmaku (room_id, dedup_key, id_str, ts_ms, recv_ms, uid, uname, text, mode, font_size, color,
 mid_hash, dm_type, emoticon, medal_level, medal_name, medal_anchor_uid, medal_room_id, guard_level, user_level, is_admin,
 reply_uid, reply_uname, is_mirror, cmd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qGift = `INSERT OR IGNORE INTO gifts (room_id, dedup_key, tid, ts_ms, recv_ms, uid, uname, gift_id, gift_name, num, price,
 total_coin, coin_type, blind_gift_name, guard_level, medal_level, medal_name, cmd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qSC = `INSERT OR IGNORE INTO super_chats (room_id, sc_id, ts_ms, recv_ms, uid, uname, price, message, message_trans, duration_s, cmd)
 VALUES (?,?,?,?,?,?,?,?,?,?,?)`
	qSCDel = `UPDATE super_chats SET deleted_ms = ? WHERE room_id = ? AND sc_id = ? AND deleted_ms IS NULL`
	qGuard = `INSERT OR IGNORE INTO guards (room_id, purchase_key, ts_ms, recv_ms, uid, uname, guard_level, num, price, unit, payflow_id, cmd)
 VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`
	qGuardPayflow = `UPDATE guards SET payflow_id = ? WHERE room_id = ? AND purchase_key = ? AND payflow_id = ''`
	qInteract     = `INSERT OR IGNORE INTO interactions (room_id, dedup_key, ts_ms, recv_ms, uid, uname, msg_type, medal_level, medal_name, cmd)
 VALUES (?,?,?,?,?,?,?,?,?,?)`
	qCounter   = `INSERT INTO counters (room_id, ts_ms, recv_ms, name, value) VALUES (?,?,?,?,?)`
	qRoomEvent = `INSERT INTO room_events (room_id, ts_ms, recv_ms, cmd, status, title, message, raw) VALUES (?,?,?,?,?,?,?,?)`
	qCombo     = `INSERT INTO combos (room_id, recv_ms, uid, uname, gift_id, gift_name, combo_num, combo_total_coin, batch_combo_id)
 VALUES (?,?,?,?,?,?,?,?,?)`
	qUnknown = `INSERT INTO unknown_commands (cmd, count, first_seen_ms, last_seen_ms, sample) VALUES (?, 1, ?, ?, ?)
 ON CONFLICT (cmd) DO UPDATE SET count = count + 1, last_seen_ms = excluded.last_seen_ms`
	qConn = `INSERT INTO connections (run_id, seq, room_id, host, started_ms, authed_ms, ended_ms, end_reason, frames, events, bytes, bad_frames)
 VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
 ON CONFLICT (run_id, seq) DO UPDATE SET authed_ms = excluded.authed_ms, ended_ms = excluded.ended_ms,
 end_reason = excluded.end_reason, frames = excluded.frames, events = excluded.events, bytes = excluded.bytes,
 bad_frames = excluded.bad_frames, host = excluded.host`
	qSnapshot = `INSERT OR REPLACE INTO room_snapshots (run_id, round, at_ms, room_id, rank, online, watched, desired, fixed, absent_rounds)
 VALUES (?,?,?,?,?,?,?,?,?,?)`
	qRoom = `INSERT INTO rooms (room_id, short_id, anchor_uid, anchor_name, title, area_id, area_name, parent_area_id, parent_area_name,
 first_seen_ms, last_seen_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)
 ON CONFLICT (room_id) DO UPDATE SET
 short_id = CASE WHEN excluded.short_id != 0 THEN excluded.short_id ELSE short_id END,
 anchor_uid = CASE WHEN excluded.anchor_uid != 0 THEN excluded.anchor_uid ELSE anchor_uid END,
 anchor_name = CASE WHEN excluded.anchor_name != '' THEN excluded.anchor_name ELSE anchor_name END,
 title = CASE WHEN excluded.title != '' THEN excluded.title ELSE title END,
 area_id = CASE WHEN excluded.area_id != 0 THEN excluded.area_id ELSE area_id END,
 area_name = CASE WHEN excluded.area_name != '' THEN excluded.area_name ELSE area_name END,
 parent_area_id = CASE WHEN excluded.parent_area_id != 0 THEN excluded.parent_area_id ELSE parent_area_id END,
 parent_area_name = CASE WHEN excluded.parent_area_name != '' THEN excluded.parent_area_name ELSE parent_area_name END,
 last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`
	qMalformed = `INSERT INTO malformed (room_id, recv_ms, reason, body) VALUES (?,?,?,?)`
	qRaw       = `INSERT INTO raw_messages (room_id, recv_ms, cmd, body) VALUES (?,?,?,?)`
)

func nullMs(ms int64) any {
	if ms == 0 {
		return nil
	}
	return ms
}

// put writes one record and returns the rows it changed (0 for an
// ignored duplicate).
func (s *stmts) put(runID int64, r Record) (int64, error) {
	switch r := r.(type) {
	case Conn:
		var reason any
		if r.EndReason != "" {
			reason = r.EndReason
		}
		return s.exec(qConn, runID, r.Seq, r.RoomID, r.Host, r.StartedMs, nullMs(r.AuthedMs), nullMs(r.EndedMs), reason,
			r.Frames, r.Events, r.Bytes, r.Bad)
	case Snapshot:
		return s.exec(qSnapshot, runID, r.Round, r.AtMs, r.RoomID, r.Rank, r.Online, r.Watched, b2i(r.Desired), b2i(r.Fixed), r.Absent)
	case RoomMeta:
		return s.exec(qRoom, r.RoomID, r.ShortID, r.AnchorUID, r.AnchorName, r.Title, r.AreaID, r.AreaName,
			r.ParentAreaID, r.ParentAreaName, r.SeenMs, r.SeenMs)
	case Malformed:
		return s.exec(qMalformed, r.RoomID, r.RecvMs, r.Reason, r.Body)
	case Raw:
		return s.exec(qRaw, r.RoomID, r.RecvMs, r.Cmd, string(r.Body))
	case Event:
		return s.putEvent(r)
	}
	return 0, fmt.Errorf("storage: unknown record %T", r)
}

func (s *stmts) putEvent(r Event) (int64, error) {
	b := r.E.Common()
	switch e := r.E.(type) {
	case *protocol.Danmaku:
		return s.exec(qDanmaku, e.RoomID, DanmakuKey(e), e.IDStr, e.TsMs, r.RecvMs, e.UID, e.Uname, e.Text, e.Mode, e.FontSize,
			e.Color, e.MidHash, e.DmType, e.Emoticon, e.MedalLevel, e.MedalName, e.MedalAnchorUID, e.MedalRoomID, e.GuardLevel,
			e.UserLevel, b2i(e.IsAdmin), e.ReplyUID, e.ReplyUname, b2i(e.IsMirror), e.Cmd)
	case *protocol.Gift:
		return s.exec(qGift, e.RoomID, GiftKey(e), e.TID, e.TsMs, r.RecvMs, e.UID, e.Uname, e.GiftID, e.GiftName, e.Num,
			e.Price, e.TotalCoin, e.CoinType, e.BlindGiftName, e.GuardLevel, e.MedalLevel, e.MedalName, e.Cmd)
	case *protocol.SuperChat:
		return s.exec(qSC, e.RoomID, e.ID, e.TsMs, r.RecvMs, e.UID, e.Uname, e.Price, e.Message, e.MessageTrans, e.DurationS, e.Cmd)
	case *protocol.SuperChatDelete:
		var n int64
		for _, id := range e.IDs {
			m, err := s.exec(qSCDel, r.RecvMs, e.RoomID, id)
			if err != nil {
				return n, err
			}
			n += m
		}
		// Deletes are kept as room events too (a delete of an SC seen
		// before this run still says something).
		m, err := s.exec(qRoomEvent, e.RoomID, e.TsMs, r.RecvMs, e.Cmd, "", "", "", fmt.Sprint(e.IDs))
		return n + m, err
	case *protocol.Guard:
		key := GuardKey(e)
		n, err := s.exec(qGuard, e.RoomID, key, e.TsMs, r.RecvMs, e.UID, e.Uname, e.GuardLevel, e.Num, e.Price, e.Unit, e.PayflowID, e.Cmd)
		if err == nil && n == 0 && e.PayflowID != "" {
			_, err = s.exec(qGuardPayflow, e.PayflowID, e.RoomID, key)
		}
		return n, err
	case *protocol.Interact:
		return s.exec(qInteract, e.RoomID, InteractKey(e), e.TsMs, r.RecvMs, e.UID, e.Uname, e.MsgType, e.MedalLevel, e.MedalName, e.Cmd)
	case *protocol.Counter:
		return s.exec(qCounter, e.RoomID, e.TsMs, r.RecvMs, e.Name, e.Value)
	case *protocol.Room:
		return s.exec(qRoomEvent, e.RoomID, e.TsMs, r.RecvMs, e.Cmd, e.Status, e.Title, e.Message, string(e.Raw))
	case *protocol.Combo:
		return s.exec(qCombo, e.RoomID, r.RecvMs, e.UID, e.Uname, e.GiftID, e.GiftName, e.ComboNum, e.ComboTotalCoin, e.BatchComboID)
	case *protocol.Other:
		return s.exec(qUnknown, e.Cmd, r.RecvMs, r.RecvMs, string(e.Raw))
	case *protocol.Control:
		return 0, nil // auth and heartbeat bookkeeping lives in connections
	}
	return 0, fmt.Errorf("storage: no table for %s event %s", b.Kind, b.Cmd)
}
