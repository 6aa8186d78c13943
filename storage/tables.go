package storage

import (
	"fmt"
	"strings"

	"github.com/danmakud/danmakud/protocol"
)

// The registry. Each table is declared once, here: its columns as the
// migrations leave them (TestRegistryMatchesSchema), their meaning,
// what feeds it and how a record is written. Order = data dictionary
// order = flush order.
var registry = []*Table{tRuns, tJournal, tRooms, tSnapshots, tConnections, tDanmaku, tGifts, tSuperChats, tGuards, tRedPockets,
	tInteractions, tCounters, tRoomEvents, tCombos, tUnknown, tMalformed, tRaw}

var tRuns = &Table{
	Name: "runs", RowDoc: "collect run",
	Columns: []Column{colNI("id", ""), colI("started_ms", ""), colNI("ended_ms", ""), colT("version", ""), colT("args", ""),
		colNT("exit_status", "`ok`, `write failed`, `final flush failed`, `interrupted: …`; `no end recorded …` when a run ended without writing it (set by the next run)")},
	skip: []string{"id", "ended_ms", "exit_status"},
	// Written by DB.StartRun and DB.EndRun, not by the writer.
}

var tJournal = &Table{
	Name: "journal_position", RowDoc: "frame journal (one row; the journal beside the database)",
	Columns: []Column{colNI("journal_id", "the journal's id (in its segment files)"), colI("seg", "segment number"),
		colI("off", "offset in the segment: every frame before it is stored"), colI("committed_ms", "")},
	// Written by the writer's flush with the rows (Decoded), not routed.
}

var tRooms = &Table{
	Name: "rooms", RowDoc: "room ever listed", Stats: true,
	Columns: []Column{colNI("room_id", ""), colI("short_id", ""), colI("anchor_uid", ""), colT("anchor_name", ""), colT("title", ""),
		colI("area_id", ""), colT("area_name", ""), colI("parent_area_id", ""), colT("parent_area_name", ""),
		colI("first_seen_ms", ""), colI("last_seen_ms", "")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(RoomMeta)
		n, err := s.update(qRoomUpdate, r.ShortID, r.AnchorUID, r.AnchorName, r.Title, r.AreaID, r.AreaName,
			r.ParentAreaID, r.ParentAreaName, r.SeenMs, r.RoomID)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, r.RoomID, r.ShortID, r.AnchorUID, r.AnchorName, r.Title, r.AreaID, r.AreaName,
			r.ParentAreaID, r.ParentAreaName, r.SeenMs, r.SeenMs)
		return err
	},
}

// qRoomUpdate keeps what is known: an empty or zero field never
// overwrites a value.
const qRoomUpdate = `UPDATE rooms SET
 short_id = CASE WHEN ?1 != 0 THEN ?1 ELSE short_id END,
 anchor_uid = CASE WHEN ?2 != 0 THEN ?2 ELSE anchor_uid END,
 anchor_name = CASE WHEN ?3 != '' THEN ?3 ELSE anchor_name END,
 title = CASE WHEN ?4 != '' THEN ?4 ELSE title END,
 area_id = CASE WHEN ?5 != 0 THEN ?5 ELSE area_id END,
 area_name = CASE WHEN ?6 != '' THEN ?6 ELSE area_name END,
 parent_area_id = CASE WHEN ?7 != 0 THEN ?7 ELSE parent_area_id END,
 parent_area_name = CASE WHEN ?8 != '' THEN ?8 ELSE parent_area_name END,
 last_seen_ms = max(last_seen_ms, ?9)
 WHERE room_id = ?10`

var tSnapshots = &Table{
	Name: "room_snapshots", RowDoc: "room per discovery round", Stats: true,
	Columns: []Column{colI("run_id", ""), colI("round", ""), colI("at_ms", ""), colI("room_id", ""),
		colI("rank", "1-based; 0 = kept by hysteresis or `--room`"), colI("online", "the list's popularity figure"),
		colI("watched", ""), colI("desired", ""), colI("fixed", "`--room`"), colI("absent_rounds", "")},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(Snapshot)
		n, err := s.update(`UPDATE room_snapshots SET at_ms = ?, rank = ?, online = ?, watched = ?, desired = ?, fixed = ?, absent_rounds = ?
 WHERE run_id = ? AND round = ? AND room_id = ?`, r.AtMs, r.Rank, r.Online, r.Watched, b2i(r.Desired), b2i(r.Fixed), r.Absent, runID, r.Round, r.RoomID)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, runID, r.Round, r.AtMs, r.RoomID, r.Rank, r.Online, r.Watched, b2i(r.Desired), b2i(r.Fixed), r.Absent)
		return err
	},
}

var tConnections = &Table{
	Name: "connections", RowDoc: "WebSocket session", Stats: true,
	Columns: []Column{colI("run_id", ""), colI("seq", ""), colI("room_id", ""), colT("host", ""), colI("started_ms", ""),
		colNI("authed_ms", "NULL = never authenticated"), colNI("ended_ms", ""),
		colNT("end_reason", "`stopped`, `server_closed`, `stalled`, `starved`, `auth_rejected`, `rate_limited`, `room_not_found`, `error: …`"),
		colI("frames", ""), colI("events", ""), colI("bytes", ""), colI("bad_frames", ""),
		colNI("uid", "the uid the auth packet carried; 0 = anonymous; NULL = unknown, rows from before schema 3"),
		colNI("anonymous", "1 = no login; NULL = unknown"),
		colNI("sampled", "1 = known to be a sample: anonymous, over an account's room budget, or a lapsed login; NULL = unknown"),
		colI("hist_seen", "room-history danmaku the coverage check judged during this connection"),
		colI("hist_arrived", "of those, how many arrived on this connection"),
		colI("acks", "op-24 message acks sent")},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(Conn)
		if r.RunID != 0 {
			runID = r.RunID
		}
		var reason any
		if r.EndReason != "" {
			reason = r.EndReason
		}
		n, err := s.update(`UPDATE connections SET host = ?, authed_ms = ?, ended_ms = ?, end_reason = ?, frames = ?, events = ?, bytes = ?,
 bad_frames = ?, uid = ?, anonymous = ?, sampled = ?, hist_seen = ?, hist_arrived = ?, acks = ? WHERE run_id = ? AND seq = ?`,
			r.Host, nullMs(r.AuthedMs), nullMs(r.EndedMs), reason, r.Frames, r.Events, r.Bytes, r.Bad,
			r.UID, b2i(r.Anonymous), b2i(r.Sampled), r.HistSeen, r.HistArrived, r.Acks, runID, r.Seq)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, runID, r.Seq, r.RoomID, r.Host, r.StartedMs, nullMs(r.AuthedMs), nullMs(r.EndedMs), reason,
			r.Frames, r.Events, r.Bytes, r.Bad, r.UID, b2i(r.Anonymous), b2i(r.Sampled), r.HistSeen, r.HistArrived, r.Acks)
		return err
	},
}

var tDanmaku = &Table{
	Name: "danmaku", RowDoc: "chat message", Stats: true, Dedup: true, RoomKind: "danmaku",
	Kinds:   []protocol.Kind{protocol.KindDanmaku},
	KeyCols: []string{"room_id", "dedup_key"},
	Key:     "`id_str`; for old messages without one, `x:<ts_ms>:<mid_hash>:<rnd>:<crc32(text)>`",
	export:  &exportSpec{seq: 1, how: map[string]fieldHow{"is_admin": asBool, "is_mirror": asBool}},
	Columns: []Column{colI("room_id", ""), colT("dedup_key", ""), colT("id_str", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colI("uid", "0 when masked"), colT("uname", ""), colT("text", ""), colI("mode", ""), colI("font_size", ""), colI("color", ""),
		colT("mid_hash", "CRC32 of the uid, kept when masked"), colI("dm_type", "0 text, 1 sticker, 2 voice"), colT("emoticon", ""),
		colI("medal_level", ""), colT("medal_name", ""), colI("medal_anchor_uid", ""), colI("medal_room_id", ""),
		colI("guard_level", ""), colI("user_level", ""), colI("is_admin", ""), colI("reply_uid", ""), colT("reply_uname", ""),
		colI("is_mirror", ""), colT("cmd", "")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Danmaku)
		_, err := s.insert(t, e.RoomID, DanmakuKey(e), e.IDStr, e.TsMs, r.RecvMs, e.UID, e.Uname, e.Text, e.Mode, e.FontSize,
			e.Color, e.MidHash, e.DmType, e.Emoticon, e.MedalLevel, e.MedalName, e.MedalAnchorUID, e.MedalRoomID, e.GuardLevel,
			e.UserLevel, b2i(e.IsAdmin), e.ReplyUID, e.ReplyUname, b2i(e.IsMirror), e.Cmd)
		return err
	},
}

var tGifts = &Table{
	Name: "gifts", RowDoc: "gift (one per SEND_GIFT_V2 list item)", Stats: true, Dedup: true, RoomKind: "gift",
	Kinds:   []protocol.Kind{protocol.KindGift},
	KeyCols: []string{"room_id", "dedup_key"},
	Key:     "`tid` (shared by SEND_GIFT and SEND_GIFT_V2)",
	export:  &exportSpec{seq: 2, how: map[string]fieldHow{"bag_gift": asBool}},
	Columns: []Column{colI("room_id", ""), colT("dedup_key", ""), colT("tid", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colI("uid", ""), colT("uname", ""), colI("gift_id", ""), colT("gift_name", ""), colI("num", ""),
		colI("price", "per unit, coins; 1000 gold = 1 CNY"),
		colI("total_coin", "what the sender paid, coins; a backpack gift carries its full price here too, see `bag_gift`"),
		colT("coin_type", "`gold` paid, `silver` free"), colT("blind_gift_name", "the box, when a blind box"),
		colI("guard_level", ""), colI("medal_level", ""), colT("medal_name", ""), colT("cmd", "the first message seen"),
		colI("bag_gift", "1 = sent from the backpack, a non-null `bag_gift`: `total_coin` was not paid now"),
		colI("blind_price", "blind box: the box's unit price in coins, what was paid per item; 0 otherwise"),
		colI("prize_value", "blind box: the prize's value in coins for the whole item; 0 otherwise")},
	put: putGift,
}

var tSuperChats = &Table{
	Name: "super_chats", RowDoc: "super chat", Stats: true, Dedup: true, RoomKind: "super_chat",
	Kinds:   []protocol.Kind{protocol.KindSuperChat, protocol.KindSuperChatDelete},
	KeyCols: []string{"room_id", "sc_id"},
	export:  &exportSpec{seq: 3, rename: map[string]string{"sc_id": "id"}},
	also:    map[protocol.Kind]*Table{protocol.KindSuperChatDelete: tRoomEvents},
	Columns: []Column{colI("room_id", ""), colI("sc_id", ""), colI("ts_ms", "start"), colI("recv_ms", ""), colI("uid", ""),
		colT("uname", ""), colI("price", "CNY"), colT("message", ""), colT("message_trans", ""), colI("duration_s", ""), colT("cmd", ""),
		colNI("deleted_ms", "set by SUPER_CHAT_MESSAGE_DELETE")},
	skip: []string{"deleted_ms"},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		switch e := r.E.(type) {
		case *protocol.SuperChat:
			_, err := s.insert(t, e.RoomID, e.ID, e.TsMs, r.RecvMs, e.UID, e.Uname, e.Price, e.Message, e.MessageTrans, e.DurationS, e.Cmd)
			return err
		case *protocol.SuperChatDelete:
			for _, id := range e.IDs {
				if _, err := s.update(`UPDATE super_chats SET deleted_ms = ? WHERE room_id = ? AND sc_id = ? AND deleted_ms IS NULL`,
					r.RecvMs, e.RoomID, id); err != nil {
					return err
				}
			}
			// Deletes are kept as room events too (a delete of an SC seen
			// before this run still says something).
			_, err := s.insert(t.also[protocol.KindSuperChatDelete], e.RoomID, e.TsMs, r.RecvMs, e.Cmd, "", "", "", fmt.Sprint(e.IDs))
			return err
		}
		return fmt.Errorf("storage: super_chats: unexpected %T", r.E)
	},
}

var tGuards = &Table{
	Name: "guards", RowDoc: "guard purchase (GUARD_BUY and its toasts linked into one row)", Stats: true, Dedup: true, RoomKind: "guard",
	Kinds:   []protocol.Kind{protocol.KindGuard},
	KeyCols: []string{"room_id", "purchase_key"},
	Key: "`<uid>:<guard_level>:<start_time>` of the purchase's GUARD_BUY, or `p:<payflow_id>` for a purchase seen " +
		"only as toasts (`t:<uid>:<guard_level>:<start_time>` for a toast without one); the messages of one purchase are linked by `payflow_id`, or (GUARD_BUY has none) by uid, level and a start time " +
		"within 10 seconds",
	export: &exportSpec{seq: 4},
	Columns: []Column{colI("room_id", ""), colT("purchase_key", ""), colI("ts_ms", "the purchase's start_time, from the first message seen"), colI("recv_ms", "the first message's"),
		colI("uid", ""), colT("uname", ""), colI("guard_level", "1 governor, 2 admiral, 3 captain"), colI("num", ""),
		colI("price", "gold; what was paid, from a toast, when one said it, else the list price; see `price_source`"),
		colT("unit", "`月` or `天`; '' when only GUARD_BUY was seen"), colT("payflow_id", "'' when only GUARD_BUY was seen"),
		colT("cmd", "the first message seen"),
		colI("list_price", "gold; GUARD_BUY's price, the list price; 0 when no GUARD_BUY was seen"),
		colT("price_source", "the command that supplied `price`: `USER_TOAST_MSG` or `USER_TOAST_MSG_V2` (paid), `GUARD_BUY` (list price only)")},
	put: putGuard,
}

var tRedPockets = &Table{
	Name: "red_pockets", RowDoc: "popularity red pocket (one per lot, however often re-broadcast)", Stats: true, Dedup: true,
	Kinds:   []protocol.Kind{kindRedPocket},
	KeyCols: []string{"room_id", "lot_id"},
	export:  &exportSpec{seq: 9},
	Columns: []Column{colI("room_id", ""), colI("lot_id", ""), colI("ts_ms", ""), colI("recv_ms", "the first broadcast's"),
		colI("uid", "the sender"), colT("uname", ""), colI("price", "total price, gold coins"), colI("start_ms", ""), colI("end_ms", ""),
		colT("cmd", "POPULARITY_RED_POCKET_START or POPULARITY_RED_POCKET_V2_START")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		p, ok := redPocketOf(r.E)
		if !ok {
			return fmt.Errorf("storage: red_pockets: unexpected %T", r.E)
		}
		return insertRedPocket(s, t, r.E.Common(), r.RecvMs, p)
	},
}

// insertRedPocket stores a pocket once: its re-broadcasts share the
// lot_id and are ignored as duplicates.
func insertRedPocket(s *stmts, t *Table, b *protocol.Base, recvMs int64, p redPocket) error {
	_, err := s.insert(t, b.RoomID, p.LotID, b.TsMs, recvMs, p.UID, p.Uname, p.Price, p.StartTime*1000, p.EndTime*1000, b.Cmd)
	return err
}

var tInteractions = &Table{
	Name: "interactions", RowDoc: "enter, follow, share, like", Stats: true, Dedup: true, RoomKind: "interact",
	Kinds:   []protocol.Kind{protocol.KindInteract},
	KeyCols: []string{"room_id", "dedup_key"},
	Key:     "`<trigger_time_ns>:<msg_type>`",
	export:  &exportSpec{seq: 5},
	nullKey: func(e protocol.Event) bool { return InteractKey(e.(*protocol.Interact)) == nil },
	Columns: []Column{colI("room_id", ""), colNT("dedup_key", ""), colI("ts_ms", ""), colI("recv_ms", ""), colI("uid", "0 when masked"),
		colT("uname", ""), colI("msg_type", "1 enter, 2 follow, 3 share, 4 special follow, 5 mutual follow, 6 like"),
		colI("medal_level", ""), colT("medal_name", ""), colT("cmd", "")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Interact)
		_, err := s.insert(t, e.RoomID, InteractKey(e), e.TsMs, r.RecvMs, e.UID, e.Uname, e.MsgType, e.MedalLevel, e.MedalName, e.Cmd)
		return err
	},
}

var tCounters = &Table{
	Name: "counters", RowDoc: "counter sample", Stats: true, Kinds: []protocol.Kind{protocol.KindCounter},
	Columns: []Column{colI("room_id", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colT("name", counterNamesDoc()), colI("value", "")},
	// The table does not store cmd: export derives it from the name.
	export: &exportSpec{seq: 6, cmdBy: "name", cmdOf: counterCmds()},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Counter)
		_, err := s.insert(t, e.RoomID, e.TsMs, r.RecvMs, e.Name, e.Value)
		return err
	},
}

// counters are the counter names protocol decodes, in the data
// dictionary's order, each with the command it comes from (a heartbeat
// reply for popularity) and a note for the dictionary.
var counters = []struct{ name, cmd, note string }{
	{"popularity", "HEARTBEAT_REPLY", "always 1 since 2023"},
	{"online_rank_count", "ONLINE_RANK_COUNT", ""},
	{"online_count", "ONLINE_RANK_COUNT", ""},
	{"watched", "WATCHED_CHANGE", ""},
	{"likes", "LIKE_INFO_V3_UPDATE", ""},
	{"fans", "ROOM_REAL_TIME_MESSAGE_UPDATE", ""},
}

// counterCmds maps each counter name to its command.
func counterCmds() map[string]string {
	m := map[string]string{}
	for _, c := range counters {
		m[c.name] = c.cmd
	}
	return m
}

// counterNamesDoc is the name column's doc: the names, with their notes.
func counterNamesDoc() string {
	var parts []string
	for _, c := range counters {
		p := "`" + c.name + "`"
		if c.note != "" {
			p += " — " + c.note + " —"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

var tRoomEvents = &Table{
	Name: "room_events", RowDoc: "room state or moderation message", Stats: true, Kinds: []protocol.Kind{protocol.KindRoom},
	Columns: []Column{colI("room_id", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colT("cmd", "LIVE, PREPARING, ROOM_CHANGE, CUT_OFF, WARNING, ROOM_SILENT_ON/OFF, ROOM_BLOCK_MSG, RECALL_DANMU_MSG, LOG_IN_NOTICE, SUPER_CHAT_MESSAGE_DELETE, …"),
		colT("status", "`live`, `preparing`, `rotation`"), colT("title", ""), colT("message", ""), colT("raw", "the whole JSON")},
	export: &exportSpec{seq: 7, how: map[string]fieldHow{"raw": asRawJSON, "status": omitEmpty, "title": omitEmpty, "message": omitEmpty}},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Room)
		_, err := s.insert(t, e.RoomID, e.TsMs, r.RecvMs, e.Cmd, e.Status, e.Title, e.Message, string(e.Raw))
		return err
	},
}

var tCombos = &Table{
	Name: "combos", RowDoc: "COMBO_SEND", Stats: true, Kinds: []protocol.Kind{protocol.KindCombo},
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colI("uid", ""), colT("uname", ""), colI("gift_id", ""), colT("gift_name", ""),
		colI("combo_num", ""), colI("combo_total_coin", ""), colT("batch_combo_id", "")},
	export: &exportSpec{seq: 8, fixedCmd: "COMBO_SEND"},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Combo)
		_, err := s.insert(t, e.RoomID, r.RecvMs, e.UID, e.Uname, e.GiftID, e.GiftName, e.ComboNum, e.ComboTotalCoin, e.BatchComboID)
		return err
	},
}

var tUnknown = &Table{
	Name: "unknown_commands", RowDoc: "command without a typed table", Stats: true, Kinds: []protocol.Kind{protocol.KindOther},
	Columns: []Column{colNT("cmd", ""), colI("count", ""), colI("first_seen_ms", ""), colI("last_seen_ms", ""),
		colT("sample", "the first one's JSON")},
	export: &exportSpec{skip: "a tally per command (count, first and last seen, one sample), not events"},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Event)
		e := r.E.(*protocol.Other)
		n, err := s.update(`UPDATE unknown_commands SET count = count + 1, last_seen_ms = max(last_seen_ms, ?) WHERE cmd = ?`, r.RecvMs, e.Cmd)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, e.Cmd, 1, r.RecvMs, r.RecvMs, string(e.Raw))
		return err
	},
}

var tMalformed = &Table{
	Name: "malformed", RowDoc: "undecodable input", Stats: true,
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colT("reason", ""), colNB("body", "")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Malformed)
		_, err := s.insert(t, r.RoomID, r.RecvMs, r.Reason, r.Body)
		return err
	},
}

var tRaw = &Table{
	Name: "raw_messages", RowDoc: "command body, only with `--raw`", Stats: true,
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colT("cmd", ""),
		colT("body", "the JSON exactly as received, for re-deriving any table later")},
	put: func(s *stmts, t *Table, _ int64, rec Record) error {
		r := rec.(Raw)
		_, err := s.insert(t, r.RoomID, r.RecvMs, r.Cmd, string(r.Body))
		return err
	},
}

func putGift(s *stmts, t *Table, _ int64, rec Record) error {
	r := rec.(Event)
	e := r.E.(*protocol.Gift)
	bag, prize := giftExtras(e)
	key := GiftKey(e)
	n, err := s.insert(t, e.RoomID, key, e.TID, e.TsMs, r.RecvMs, e.UID, e.Uname, e.GiftID, e.GiftName, e.Num,
		e.Price, e.TotalCoin, e.CoinType, e.BlindGiftName, e.GuardLevel, e.MedalLevel, e.MedalName, e.Cmd,
		b2i(bag), e.BlindPrice, prize)
	if err != nil || n > 0 || (!bag && e.BlindPrice == 0 && prize == 0) {
		return err
	}
	// The other copy of a gift already stored (SEND_GIFT vs _V2): keep
	// the money facts one of them lacked. The record still counts as a
	// duplicate: it added no row.
	_, err = s.update(`UPDATE gifts SET bag_gift = max(bag_gift, ?1),
 blind_price = CASE WHEN blind_price = 0 THEN ?2 ELSE blind_price END,
 prize_value = CASE WHEN prize_value = 0 THEN ?3 ELSE prize_value END
 WHERE room_id = ?4 AND dedup_key = ?5 AND (bag_gift < ?1 OR (blind_price = 0 AND ?2 != 0) OR (prize_value = 0 AND ?3 != 0))`,
		b2i(bag), e.BlindPrice, prize, e.RoomID, key)
	return err
}

// giftExtras are the gift's backpack flag and blind-box prize value.
func giftExtras(e *protocol.Gift) (bag bool, prizeValue int64) {
	return e.BagGift, e.PrizeValue
}

// kindRedPocket is the kind red_pockets stores.
const kindRedPocket = protocol.KindRedPocket

// redPocket is what red_pockets stores of a protocol.RedPocket.
type redPocket struct {
	LotID, UID         int64
	Uname              string
	Price              int64 // total, gold coins
	StartTime, EndTime int64 // unix s
}

// redPocketOf reads a red-pocket event.
func redPocketOf(e protocol.Event) (redPocket, bool) {
	if e, ok := e.(*protocol.RedPocket); ok {
		return redPocket{LotID: e.LotID, UID: e.UID, Uname: e.Uname, Price: e.Price, StartTime: e.StartTime, EndTime: e.EndTime}, true
	}
	return redPocket{}, false
}
