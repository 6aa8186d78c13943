package storage

import (
	"fmt"
	"strings"

	"github.com/danmakud/danmakud/protocol"
)

// The registry. Each table is declared once, here: its columns as the
// migrations leave them (TestRegistryMatchesSchema), their meaning,
// what feeds it, its one row function (record → column values) and how
// a record is written. Order = data dictionary order = flush order.
var registry = []*Table{tRuns, tJournal, tDatabaseID, tMergedInputs, tMergeProgress, tRooms, tSnapshots, tConnections, tUnstored,
	tDanmaku, tGifts, tSuperChats, tGuards, tRedPockets, tInteractions, tCounters, tRoomEvents, tCombos, tUnknown, tMalformed, tRaw,
	tCommands, tCounterNames, tMedals}

// The lookups: values that repeat row after row, stored once and coded.
var (
	lCommands     = &lookup{Table: "commands", ID: "cmd_id", Cols: []Column{colT("cmd", "")}}
	lCounterNames = &lookup{Table: "counter_names", ID: "name_id", Cols: []Column{colT("name", "")}}
	lMedals       = &lookup{Table: "medals", ID: "medal_id", Cols: []Column{colT("medal_name", ""), colI("medal_anchor_uid", ""), colI("medal_room_id", "")}}
	lookups       = []*lookup{lCommands, lCounterNames, lMedals}
)

var tRuns = &Table{
	Name: "runs", RowDoc: "collect run",
	Columns: []Column{colNI("id", ""), colI("started_ms", ""), colNI("ended_ms", ""), colT("version", ""), colT("args", ""),
		colNT("exit_status", "`ok`, `write failed`, `final flush failed`, `interrupted: …`; `no end recorded …` when a run ended without writing it (set by the next run)"),
		colT("shard", "`K/N` (`collect --shard`); '' when not sharded"),
		colNT("source_db", "NULL: collected into this file; else merged from another: the `db_id` of the file it was collected into"),
		colNI("source_run", "for a merged run, its `id` in that file")},
	skip:  []string{"id", "ended_ms", "exit_status", "source_db", "source_run"},
	merge: mergeSpec{how: mergeCustom, doc: "each input run once, with a new `id` and where it came from (`source_db`, `source_run`); its end is taken again by a later merge"},
	// Written by DB.StartRun and DB.EndRun, not by the writer.
}

var tJournal = &Table{
	Name: "journal_position", RowDoc: "frame journal (one row; the journal beside the database)",
	Columns: []Column{colNI("journal_id", "the journal's id (in its segment files)"), colI("seg", "segment number"),
		colI("off", "offset in the segment: every frame before it is stored"), colI("committed_ms", "")},
	// Written by the writer's flush with the rows (Decoded), not routed.
	merge: mergeSpec{how: mergeNot, doc: "the frame journal of the file it was collected into, not this file's"},
}

var tRooms = &Table{
	Name: "rooms", RowDoc: "room ever listed", Stats: true,
	Columns: []Column{colNI("room_id", ""), colI("short_id", ""), colI("anchor_uid", ""), colT("anchor_name", ""), colT("title", ""),
		colI("area_id", ""), colT("area_name", ""), colI("parent_area_id", ""), colT("parent_area_name", ""),
		colI("first_seen_ms", ""), colI("last_seen_ms", "")},
	merge: mergeSpec{how: mergeLatest, key: []string{"room_id"},
		doc: "a value known (not empty or 0) in the row seen last wins, `first_seen_ms` is the earliest, `last_seen_ms` the latest"},
	row: func(_ int64, rec Record) []any {
		r, ok := rec.(RoomMeta)
		if !ok {
			return nil
		}
		return []any{r.RoomID, r.ShortID, r.AnchorUID, r.AnchorName, r.Title, r.AreaID, r.AreaName,
			r.ParentAreaID, r.ParentAreaName, r.SeenMs, r.SeenMs}
	},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(RoomMeta)
		n, err := s.update(qRoomUpdate, r.ShortID, r.AnchorUID, r.AnchorName, r.Title, r.AreaID, r.AreaName,
			r.ParentAreaID, r.ParentAreaName, r.SeenMs, r.RoomID)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, t.row(runID, rec))
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
	merge: mergeSpec{how: mergeLatest, key: []string{"run_id", "round", "room_id"}},
	row: func(runID int64, rec Record) []any {
		r, ok := rec.(Snapshot)
		if !ok {
			return nil
		}
		return []any{runID, r.Round, r.AtMs, r.RoomID, r.Rank, r.Online, r.Watched, b2i(r.Desired), b2i(r.Fixed), r.Absent}
	},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(Snapshot)
		n, err := s.update(`UPDATE room_snapshots SET at_ms = ?, rank = ?, online = ?, watched = ?, desired = ?, fixed = ?, absent_rounds = ?
 WHERE run_id = ? AND round = ? AND room_id = ?`, r.AtMs, r.Rank, r.Online, r.Watched, b2i(r.Desired), b2i(r.Fixed), r.Absent, runID, r.Round, r.RoomID)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, t.row(runID, rec))
		return err
	},
}

var tConnections = &Table{
	Name: "connections", RowDoc: "WebSocket session", Stats: true,
	Columns: []Column{colI("run_id", ""), colI("seq", ""), colI("room_id", ""), colT("host", ""), colI("started_ms", ""),
		colNI("authed_ms", "NULL = never authenticated"), colNI("ended_ms", ""),
		colNT("end_reason", "`stopped`, `server_closed`, `stalled`, `starved`, `auth_rejected`, `rate_limited`, `room_not_found`, `descriptors` (out of file descriptors), `upgraded`, `rotated` (the run went on in the next file of a rotating `--db`), `error: …`"),
		colI("frames", ""), colI("events", ""), colI("bytes", ""), colI("bad_frames", ""),
		colNI("uid", "the uid the auth packet carried; 0 = anonymous; NULL = unknown, rows from before schema 3"),
		colNI("anonymous", "1 = no login; NULL = unknown"),
		colNI("sampled", "1 = known to be a sample: anonymous, over an account's room budget, or a lapsed login; NULL = unknown"),
		colI("hist_seen", "room-history danmaku the coverage check judged during this connection"),
		colI("hist_arrived", "of those, how many arrived on this connection"),
		colI("acks", "op-24 message acks sent")},
	merge: mergeSpec{how: mergeLatest, key: []string{"run_id", "seq"}},
	row: func(runID int64, rec Record) []any {
		r, ok := rec.(Conn)
		if !ok {
			return nil
		}
		if r.RunID != 0 {
			runID = r.RunID
		}
		var reason any
		if r.EndReason != "" {
			reason = r.EndReason
		}
		return []any{runID, r.Seq, r.RoomID, r.Host, r.StartedMs, nullZero(r.AuthedMs), nullZero(r.EndedMs), reason,
			r.Frames, r.Events, r.Bytes, r.Bad, r.UID, b2i(r.Anonymous), b2i(r.Sampled), r.HistSeen, r.HistArrived, r.Acks}
	},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		row := t.row(runID, rec)
		// Every column but the key (run_id, seq) and what the first
		// record says (room_id, started_ms) takes the latest record's.
		n, err := s.update(`UPDATE connections SET host = ?, authed_ms = ?, ended_ms = ?, end_reason = ?, frames = ?, events = ?, bytes = ?,
 bad_frames = ?, uid = ?, anonymous = ?, sampled = ?, hist_seen = ?, hist_arrived = ?, acks = ? WHERE run_id = ? AND seq = ?`,
			append(append([]any{row[3]}, row[5:]...), row[0], row[1])...)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, row)
		return err
	},
}

var tDanmaku = &Table{
	Name: "danmaku", Store: "danmaku_rows", RowDoc: "chat message", Stats: true, Dedup: true, RoomKind: "danmaku",
	Kinds:   []protocol.Kind{protocol.KindDanmaku},
	KeyCols: []string{"room_id", "dedup"},
	Key:     "`dedup` is the 64-bit FNV-1a hash of the message's key: its `id_str`; for old messages without one, `x:<ts_ms>:<mid_hash>:<rnd>:<crc32(text)>` (kept in `dedup_key`)",
	merge:   mergeSpec{how: mergeOnce},
	export:  &exportSpec{seq: 1, how: map[string]fieldHow{"is_admin": asBool, "is_mirror": asBool}},
	Columns: []Column{colI("room_id", ""), hidden(colI("dedup", "FNV-1a 64 of the key, see the unique keys")),
		readAsExpr(colNT("dedup_key", "the key when it is not `id_str` (old messages), else NULL"),
			colT("dedup_key", "the key: `id_str`, or what the stored `dedup_key` says"), "coalesce(dedup_key, "+unhexSQL("id_str")+")"),
		hexPacked(colT("id_str", "hex; stored as bytes")), colI("ts_ms", ""), recvDelta(),
		colI("uid", "0 when masked"), colT("uname", ""), colT("text", ""), colI("mode", ""), colI("font_size", ""), colI("color", ""),
		hexPacked(colT("mid_hash", "CRC32 of the uid, kept when masked; hex, stored as bytes")), colI("dm_type", "0 text, 1 sticker, 2 voice"), colT("emoticon", ""),
		colI("medal_level", ""), colL("medal_id", lMedals, ""),
		colI("guard_level", ""), colI("user_level", ""), colI("is_admin", ""), colI("reply_uid", ""), colT("reply_uname", ""),
		colI("is_mirror", ""), colL("cmd_id", lCommands, "")},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Danmaku](rec)
		if !ok {
			return nil
		}
		key := DanmakuKey(e)
		return []any{e.RoomID, DedupHash(key), keptKey(key, e.IDStr), packHex(e.IDStr), e.TsMs, recv - e.TsMs, e.UID, e.Uname, e.Text, e.Mode, e.FontSize,
			e.Color, packHex(e.MidHash), e.DmType, e.Emoticon, e.MedalLevel, []any{e.MedalName, e.MedalAnchorUID, e.MedalRoomID}, e.GuardLevel,
			e.UserLevel, b2i(e.IsAdmin), e.ReplyUID, e.ReplyUname, b2i(e.IsMirror), e.Cmd}
	},
}

var tGifts = &Table{
	Name: "gifts", Store: "gifts_rows", RowDoc: "gift (one per SEND_GIFT_V2 list item)", Stats: true, Dedup: true, RoomKind: "gift",
	Kinds:   []protocol.Kind{protocol.KindGift},
	KeyCols: []string{"room_id", "dedup"},
	Key:     "`dedup` is the 64-bit FNV-1a hash of the gift's key: its `tid` (shared by SEND_GIFT and SEND_GIFT_V2); without one, `x:<uid>:<gift_id>:<ts_ms>:<num>` (kept in `dedup_key`)",
	merge:   mergeSpec{how: mergeOnce},
	export:  &exportSpec{seq: 2, how: map[string]fieldHow{"bag_gift": asBool}},
	Columns: []Column{colI("room_id", ""), hidden(colI("dedup", "FNV-1a 64 of the key, see the unique keys")),
		readAsExpr(colNT("dedup_key", "the key when it is not `tid`, else NULL"),
			colT("dedup_key", "the key: `tid`, or what the stored `dedup_key` says"), "coalesce(dedup_key, tid)"),
		colT("tid", ""), colI("ts_ms", ""), recvDelta(),
		colI("uid", ""), colT("uname", ""), colI("gift_id", ""), colT("gift_name", ""), colI("num", ""),
		colI("price", "per unit, coins; 1000 gold = 1 CNY"),
		colI("total_coin", "what the sender paid, coins; a backpack gift carries its full price here too, see `bag_gift`"),
		colT("coin_type", "`gold` paid, `silver` free"), colT("blind_gift_name", "the box, when a blind box"),
		colI("guard_level", ""), colI("medal_level", ""), colT("medal_name", ""), colL("cmd_id", lCommands, "the first message seen"),
		colI("bag_gift", "1 = sent from the backpack, a non-null `bag_gift`: `total_coin` was not paid now"),
		colI("blind_price", "blind box: the box's unit price in coins, what was paid per item; 0 otherwise"),
		colI("prize_value", "blind box: the prize's value in coins for the whole item; 0 otherwise")},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Gift](rec)
		if !ok {
			return nil
		}
		key := GiftKey(e)
		return []any{e.RoomID, DedupHash(key), keptKey(key, e.TID), e.TID, e.TsMs, recv - e.TsMs, e.UID, e.Uname, e.GiftID, e.GiftName, e.Num,
			e.Price, e.TotalCoin, e.CoinType, e.BlindGiftName, e.GuardLevel, e.MedalLevel, e.MedalName, e.Cmd,
			b2i(e.BagGift), e.BlindPrice, e.PrizeValue}
	},
	put: putGift,
}

var tSuperChats = &Table{
	Name: "super_chats", Store: "super_chats_rows", RowDoc: "super chat", Stats: true, Dedup: true, RoomKind: "super_chat",
	Kinds:   []protocol.Kind{protocol.KindSuperChat, protocol.KindSuperChatDelete},
	KeyCols: []string{"room_id", "sc_id"},
	merge:   mergeSpec{how: mergeOnce},
	export:  &exportSpec{seq: 3, rename: map[string]string{"sc_id": "id"}},
	also:    map[protocol.Kind]*Table{protocol.KindSuperChatDelete: tRoomEvents},
	Columns: []Column{colI("room_id", ""), colI("sc_id", ""), colI("ts_ms", "start"), colI("recv_ms", ""), colI("uid", ""),
		colT("uname", ""), colI("price", "CNY"), colT("message", ""), colT("message_trans", ""), colI("duration_s", ""),
		colL("cmd_id", lCommands, ""), colNI("deleted_ms", "set by SUPER_CHAT_MESSAGE_DELETE")},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.SuperChat](rec)
		if !ok {
			return nil
		}
		return []any{e.RoomID, e.ID, e.TsMs, recv, e.UID, e.Uname, e.Price, e.Message, e.MessageTrans, e.DurationS, e.Cmd, nil}
	},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(Event)
		switch e := r.E.(type) {
		case *protocol.SuperChat:
			_, err := s.insert(t, t.row(runID, rec))
			return err
		case *protocol.SuperChatDelete:
			for _, id := range e.IDs {
				if _, err := s.update(`UPDATE `+t.Stored()+` SET deleted_ms = ? WHERE room_id = ? AND sc_id = ? AND deleted_ms IS NULL`,
					r.RecvMs, e.RoomID, id); err != nil {
					return err
				}
			}
			// Deletes are kept as room events too (a delete of an SC seen
			// before this run still says something).
			re := t.also[protocol.KindSuperChatDelete]
			_, err := s.insert(re, re.row(runID, rec))
			return err
		}
		return fmt.Errorf("storage: super_chats: unexpected %T", r.E)
	},
}

var tGuards = &Table{
	Name: "guards", Store: "guards_rows", RowDoc: "guard purchase (GUARD_BUY and its toasts linked into one row)", Stats: true, Dedup: true, RoomKind: "guard",
	Kinds:   []protocol.Kind{protocol.KindGuard},
	KeyCols: []string{"room_id", "purchase_key"},
	Key: "`<uid>:<guard_level>:<start_time>` of the purchase's GUARD_BUY, or `p:<payflow_id>` for a purchase seen " +
		"only as toasts (`t:<uid>:<guard_level>:<start_time>` for a toast without one); the messages of one purchase are linked by `payflow_id`, or (GUARD_BUY has none) by uid, level and a start time " +
		"within 10 seconds",
	merge:  mergeSpec{how: mergeOnce},
	export: &exportSpec{seq: 4},
	Columns: []Column{colI("room_id", ""), colT("purchase_key", ""), colI("ts_ms", "the purchase's start_time, from the first message seen"), colI("recv_ms", "the first message's"),
		colI("uid", ""), colT("uname", ""), colI("guard_level", "1 governor, 2 admiral, 3 captain"), colI("num", ""),
		colI("price", "gold; what was paid, from a toast, when one said it, else the list price; see `price_source`"),
		colT("unit", "`月` or `天`; '' when only GUARD_BUY was seen"), colT("payflow_id", "'' when only GUARD_BUY was seen"),
		colL("cmd_id", lCommands, "the first message seen"),
		colI("list_price", "gold; GUARD_BUY's price, the list price; 0 when no GUARD_BUY was seen"),
		colT("price_source", "the command that supplied `price`: `USER_TOAST_MSG` or `USER_TOAST_MSG_V2` (paid), `GUARD_BUY` (list price only)")},
	row: func(_ int64, rec Record) []any {
		g, recv, ok := eventOf[*protocol.Guard](rec)
		if !ok {
			return nil
		}
		list, source := guardPrice(g)
		return []any{g.RoomID, GuardKey(g), guardAt(g, recv), recv, g.UID, g.Uname, g.GuardLevel, g.Num, g.Price, g.Unit, g.PayflowID,
			g.Cmd, list, source}
	},
	put: putGuard,
}

var tRedPockets = &Table{
	Name: "red_pockets", Store: "red_pockets_rows", RowDoc: "popularity red pocket (one per lot, however often re-broadcast)", Stats: true, Dedup: true,
	Kinds:   []protocol.Kind{kindRedPocket},
	KeyCols: []string{"room_id", "lot_id"},
	merge:   mergeSpec{how: mergeOnce},
	export:  &exportSpec{seq: 9},
	Columns: []Column{colI("room_id", ""), colI("lot_id", ""), colI("ts_ms", ""), colI("recv_ms", "the first broadcast's"),
		colI("uid", "the sender"), colT("uname", ""), colI("price", "total price, gold coins"), colI("start_ms", ""), colI("end_ms", ""),
		colL("cmd_id", lCommands, "POPULARITY_RED_POCKET_START or POPULARITY_RED_POCKET_V2_START")},
	// A pocket is stored once: its re-broadcasts share the lot_id and
	// are ignored as duplicates.
	row: func(_ int64, rec Record) []any {
		ev, ok := rec.(Event)
		if !ok {
			return nil
		}
		p, ok := redPocketOf(ev.E)
		if !ok {
			return nil
		}
		b := ev.E.Common()
		return []any{b.RoomID, p.LotID, b.TsMs, ev.RecvMs, p.UID, p.Uname, p.Price, p.StartTime * 1000, p.EndTime * 1000, b.Cmd}
	},
}

var tInteractions = &Table{
	Name: "interactions", Store: "interactions_rows", RowDoc: "enter, follow, share, like", Stats: true, Dedup: true, RoomKind: "interact",
	Kinds:   []protocol.Kind{protocol.KindInteract},
	KeyCols: []string{"room_id", "trigger_ns", "msg_type"},
	Key:     "the message's trigger time in ns (unique per room) and type; the view shows them as `dedup_key` = `<trigger_ns>:<msg_type>`",
	merge:   mergeSpec{how: mergeOnce},
	export:  &exportSpec{seq: 5},
	nullKey: func(e protocol.Event) bool { return e.(*protocol.Interact).TriggerTimeNs == 0 },
	Columns: []Column{colI("room_id", ""),
		readAsExpr(colNI("trigger_ns", "the message's trigger time, ns; NULL when it has none (like clicks)"),
			colNT("dedup_key", "`<trigger_ns>:<msg_type>`; NULL without a trigger time"), "trigger_ns || ':' || msg_type"),
		colI("ts_ms", ""), recvDelta(), colI("uid", "0 when masked"),
		colT("uname", ""), colI("msg_type", "1 enter, 2 follow, 3 share, 4 special follow, 5 mutual follow, 6 like"),
		colI("medal_level", ""), colT("medal_name", ""), colL("cmd_id", lCommands, "")},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Interact](rec)
		if !ok {
			return nil
		}
		return []any{e.RoomID, nullZero(e.TriggerTimeNs), e.TsMs, recv - e.TsMs, e.UID, e.Uname, e.MsgType, e.MedalLevel, e.MedalName, e.Cmd}
	},
}

var tCounters = &Table{
	Name: "counters", Store: "counters_rows", RowDoc: "counter sample", Stats: true, Kinds: []protocol.Kind{protocol.KindCounter},
	Columns: []Column{colI("room_id", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colL("name_id", lCounterNames, counterNamesDoc()), colI("value", "")},
	// The table does not store cmd: export derives it from the name.
	merge:  mergeSpec{how: mergeOnce},
	export: &exportSpec{seq: 6, cmdBy: "name", cmdOf: counterCmds()},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Counter](rec)
		if !ok {
			return nil
		}
		return []any{e.RoomID, e.TsMs, recv, e.Name, e.Value}
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
	Name: "room_events", Store: "room_events_rows", RowDoc: "room state or moderation message", Stats: true, Kinds: []protocol.Kind{protocol.KindRoom},
	Columns: []Column{colI("room_id", ""), colI("ts_ms", ""), colI("recv_ms", ""),
		colL("cmd_id", lCommands, "LIVE, PREPARING, ROOM_CHANGE, CUT_OFF, WARNING, ROOM_SILENT_ON/OFF, ROOM_BLOCK_MSG, RECALL_DANMU_MSG, LOG_IN_NOTICE, SUPER_CHAT_MESSAGE_DELETE, …"),
		colT("status", "`live`, `preparing`, `rotation`"), colT("title", ""), colT("message", ""), colT("raw", "the whole JSON")},
	merge:  mergeSpec{how: mergeOnce},
	export: &exportSpec{seq: 7, how: map[string]fieldHow{"raw": asRawJSON, "status": omitEmpty, "title": omitEmpty, "message": omitEmpty}},
	// A super chat delete (routed to super_chats) adds a row here too,
	// its ids as raw.
	row: func(_ int64, rec Record) []any {
		ev, ok := rec.(Event)
		if !ok {
			return nil
		}
		switch e := ev.E.(type) {
		case *protocol.Room:
			return []any{e.RoomID, e.TsMs, ev.RecvMs, e.Cmd, e.Status, e.Title, e.Message, string(e.Raw)}
		case *protocol.SuperChatDelete:
			return []any{e.RoomID, e.TsMs, ev.RecvMs, e.Cmd, "", "", "", fmt.Sprint(e.IDs)}
		}
		return nil
	},
}

var tCombos = &Table{
	Name: "combos", RowDoc: "COMBO_SEND", Stats: true, Kinds: []protocol.Kind{protocol.KindCombo},
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colI("uid", ""), colT("uname", ""), colI("gift_id", ""), colT("gift_name", ""),
		colI("combo_num", ""), colI("combo_total_coin", ""), colT("batch_combo_id", "")},
	merge:  mergeSpec{how: mergeOnce},
	export: &exportSpec{seq: 8, fixedCmd: "COMBO_SEND"},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Combo](rec)
		if !ok {
			return nil
		}
		return []any{e.RoomID, recv, e.UID, e.Uname, e.GiftID, e.GiftName, e.ComboNum, e.ComboTotalCoin, e.BatchComboID}
	},
}

var tUnknown = &Table{
	Name: "unknown_commands", RowDoc: "command without a typed table", Stats: true, Kinds: []protocol.Kind{protocol.KindOther},
	Columns: []Column{colNT("cmd", ""), colI("count", ""), colI("first_seen_ms", ""), colI("last_seen_ms", ""),
		colT("sample", "the first one's JSON")},
	export: &exportSpec{skip: "a tally per command (count, first and last seen, one sample), not events"},
	merge: mergeSpec{how: mergeOnce, key: []string{"cmd"},
		set: "count = count + excluded.count, first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
		doc: "counts added, the first sample kept"},
	row: func(_ int64, rec Record) []any {
		e, recv, ok := eventOf[*protocol.Other](rec)
		if !ok {
			return nil
		}
		return []any{e.Cmd, 1, recv, recv, string(e.Raw)}
	},
	put: func(s *stmts, t *Table, runID int64, rec Record) error {
		r := rec.(Event)
		n, err := s.update(`UPDATE unknown_commands SET count = count + 1, last_seen_ms = max(last_seen_ms, ?) WHERE cmd = ?`, r.RecvMs, r.E.Common().Cmd)
		if err != nil || n > 0 {
			return err
		}
		_, err = s.insert(t, t.row(runID, rec))
		return err
	},
}

var tMalformed = &Table{
	Name: "malformed", RowDoc: "undecodable input", Stats: true,
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colT("reason", ""), colNB("body", "")},
	merge:   mergeSpec{how: mergeOnce},
	row: func(_ int64, rec Record) []any {
		r, ok := rec.(Malformed)
		if !ok {
			return nil
		}
		return []any{r.RoomID, r.RecvMs, r.Reason, r.Body}
	},
}

var tRaw = &Table{
	Name: "raw_messages", RowDoc: "command body, only with `--raw`", Stats: true,
	Columns: []Column{colI("room_id", ""), colI("recv_ms", ""), colT("cmd", ""),
		colT("body", "the JSON exactly as received, for re-deriving any table later")},
	merge: mergeSpec{how: mergeOnce},
	row: func(_ int64, rec Record) []any {
		r, ok := rec.(Raw)
		if !ok {
			return nil
		}
		return []any{r.RoomID, r.RecvMs, r.Cmd, string(r.Body)}
	},
}

var (
	tCommands     = lookupTable(lCommands, "command name that an event table's `cmd_id` codes")
	tCounterNames = lookupTable(lCounterNames, "counter name that `counters_rows.name_id` codes")
	tMedals       = lookupTable(lMedals, "fan medal (name, anchor, room) that `danmaku_rows.medal_id` codes")
)

// recvDelta is the receive time of a busy table, stored as the
// milliseconds after ts_ms (a byte or two instead of six), read as
// recv_ms.
func recvDelta() Column {
	return readAsExpr(colI("recv_delta", "`recv_ms` − `ts_ms`"), colI("recv_ms", ""), "ts_ms + recv_delta")
}

// eventOf is r's event as an E and when it was received; ok is false
// when r is not an Event holding an E.
func eventOf[E protocol.Event](r Record) (e E, recvMs int64, ok bool) {
	ev, isEvent := r.(Event)
	if !isEvent {
		return e, 0, false
	}
	e, ok = ev.E.(E)
	return e, ev.RecvMs, ok
}

// putGift stores a gift once per key; the other copy of a gift already
// stored (SEND_GIFT vs _V2) adds the money facts the first lacked.
func putGift(s *stmts, t *Table, runID int64, rec Record) error {
	e := rec.(Event).E.(*protocol.Gift)
	row := t.row(runID, rec)
	n, err := s.insert(t, row)
	if err != nil || n > 0 || (!e.BagGift && e.BlindPrice == 0 && e.PrizeValue == 0) {
		return err
	}
	// The record still counts as a duplicate: it added no row.
	_, err = s.update(`UPDATE `+t.Stored()+` SET bag_gift = max(bag_gift, ?1),
 blind_price = CASE WHEN blind_price = 0 THEN ?2 ELSE blind_price END,
 prize_value = CASE WHEN prize_value = 0 THEN ?3 ELSE prize_value END
 WHERE room_id = ?4 AND dedup = ?5 AND (bag_gift < ?1 OR (blind_price = 0 AND ?2 != 0) OR (prize_value = 0 AND ?3 != 0))`,
		b2i(e.BagGift), e.BlindPrice, e.PrizeValue, e.RoomID, row[1])
	return err
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
