package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
)

// ErrNotCommand reports an op-5 body that is not a JSON object with a
// string "cmd". The body is kept in *CommandError for the caller to store.
var ErrNotCommand = errors.New("body is not a JSON command object")

// CommandError is returned by CommandDecoder.Decode for bodies that cannot
// be turned into any event, not even KindOther.
type CommandError struct {
	Reason error  // ErrNotCommand
	Detail string // parser message
	Body   []byte // a copy of the offending body
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("protocol: %v: %s", e.Reason, e.Detail)
}

func (e *CommandError) Unwrap() error { return e.Reason }

// CommandDecoder decodes op-5 command JSON into typed events. It reuses its
// parsers across calls, so it is not safe for concurrent use: one per
// connection or goroutine. The zero value is ready to use.
type CommandDecoder struct {
	p     fastjson.Parser // the command
	px    fastjson.Parser // DANMU_MSG extra (a JSON string inside the JSON)
	pb    []byte          // base64-decoded protobuf scratch
	extra []byte
	// slowOnly disables the DANMU_MSG fast path (tests compare the two).
	slowOnly bool
}

// looksLikeDanmaku is a cheap pre-check for the fast path: the body
// names a DANMU_MSG command near its start.
func looksLikeDanmaku(body []byte) bool {
	return bytes.Contains(body[:min(len(body), 64)], []byte(`"DANMU_MSG`))
}

// Decode appends the events of one command body to dst. roomID, when not
// 0, is the room the connection belongs to and wins over ids inside the
// message (the connection knows its room; messages do not always say).
//
// Every command yields at least one event: unknown commands and known
// commands of an unexpected shape become *Other with the raw object and a
// decode_error saying why. A known command with an integer field that
// does not fit int64 (past its range, fractional, a negative amount;
// see readInt) is such a command: no typed event carries a wrapped or
// rounded value. When a command has both, the shape error is the one
// named. Only a body that is not a JSON object with a string cmd returns
// an error (a *CommandError carrying a copy of the body); that includes a
// body nested deeper than the parser's limit (fastjson.MaxDepth), whatever
// its cmd.
func (d *CommandDecoder) Decode(dst []Event, body []byte, roomID int64) ([]Event, error) {
	if !d.slowOnly && looksLikeDanmaku(body) {
		if e, ok := d.fastDanmaku(body, roomID); ok {
			return append(dst, e), nil
		}
	}
	v, err := d.p.ParseBytes(body)
	if err != nil {
		return dst, &CommandError{Reason: ErrNotCommand, Detail: err.Error(), Body: bytes.Clone(body)}
	}
	cmdv := v.Get("cmd")
	if v.Type() != fastjson.TypeObject || cmdv == nil || cmdv.Type() != fastjson.TypeString {
		return dst, &CommandError{Reason: ErrNotCommand, Detail: "no string cmd", Body: bytes.Clone(body)}
	}
	full := cmdv.GetStringBytes()
	base := full
	if i := bytes.IndexByte(base, ':'); i >= 0 {
		base = base[:i]
	}
	c := cmdCtx{d: d, v: v, body: body, room: roomID}
	c.b.Cmd = internCmd(base)
	if c.room == 0 {
		c.room = c.roomIDOf(v)
	}
	c.b.RoomID = c.room
	c.b.TsMs = c.i64(v.Get("send_time"))
	c.ackFields()

	n := len(dst)
	dst, err = c.decode(dst)
	if err == nil && c.bad != "" {
		err = errShape(c.bad)
	}
	if err != nil {
		dst = dst[:n]
		dst = append(dst, c.other(err.Error()))
	}
	return dst, nil
}

// cmdCtx carries one command through its decoder.
type cmdCtx struct {
	d    *CommandDecoder
	v    *fastjson.Value
	body []byte
	room int64
	b    Base
	// x is the parsed DANMU_MSG extra document, for naming its fields.
	x *fastjson.Value
	// bad is the first numeric decode error (cmdCtx.i64); when set, the
	// command is kept as KindOther with it as decode_error.
	bad string
}

// ackFields fills the message-level ack fields of the base from the
// top level (docs/protocol.md §10.3). Duplicate keys: the first wins, as with
// every other field.
func (c *cmdCtx) ackFields() {
	v := c.v
	if id := v.Get("msg_id"); id != nil {
		switch id.Type() {
		case fastjson.TypeString:
			c.b.MsgID = string(id.GetStringBytes())
			c.b.MsgIDRaw = id.MarshalTo(nil)
		case fastjson.TypeNumber:
			c.b.MsgIDRaw = id.MarshalTo(nil) // the number's text as received
			c.b.MsgID = string(c.b.MsgIDRaw)
		}
	}
	if a := v.Get("p_is_ack"); a != nil && a.Type() == fastjson.TypeTrue {
		c.b.PIsAck = true
	}
	c.b.PMsgType = c.i64(v.Get("p_msg_type"))
}

func (c *cmdCtx) base(k Kind) Base { b := c.b; b.Kind = k; return b }

// raw returns the original object for Raw fields. A body that only a
// lenient parser accepts (leading zeros, invalid UTF-8) would make the
// canonical JSON invalid, so it is kept as a JSON string instead.
func (c *cmdCtx) raw() json.RawMessage {
	if json.Valid(c.body) {
		return json.RawMessage(bytes.Clone(c.body))
	}
	q, _ := json.Marshal(string(c.body))
	return q
}

func (c *cmdCtx) other(why string) *Other {
	return &Other{Base: c.base(KindOther), DecodeError: why, Raw: c.raw()}
}

// errShape marks a known command whose JSON did not have the expected
// shape; the command is kept as KindOther with this message.
type errShape string

func (e errShape) Error() string { return string(e) }

// decode appends the events of the command to dst: one switch on the
// command name, each known command read by its own method. An error (an
// errShape) means the command is not of the shape its name promises;
// Decode then drops what was appended and keeps it as KindOther.
func (c *cmdCtx) decode(dst []Event) ([]Event, error) {
	switch c.b.Cmd {
	case "DANMU_MSG", "DANMU_MSG_MIRROR":
		e, err := c.danmaku()
		if err != nil {
			return dst, err
		}
		return append(dst, e), nil
	case "SEND_GIFT":
		e, err := c.gift(c.v.Get("data"))
		if err != nil {
			return dst, err
		}
		return append(dst, e), nil
	case "SEND_GIFT_V2":
		return c.giftV2(dst)
	case "COMBO_SEND":
		return c.combo(dst)
	case "SUPER_CHAT_MESSAGE", "SUPER_CHAT_MESSAGE_JPN":
		return c.superChat(dst)
	case "SUPER_CHAT_MESSAGE_DELETE":
		return c.superChatDelete(dst)
	case "GUARD_BUY", "USER_TOAST_MSG":
		return c.guard(dst)
	case "USER_TOAST_MSG_V2":
		return c.guardV2(dst)
	case "INTERACT_WORD", "LIKE_INFO_V3_CLICK":
		return c.interact(dst)
	case "INTERACT_WORD_V2":
		return c.interactV2(dst)
	case "POPULARITY_RED_POCKET_START", "POPULARITY_RED_POCKET_V2_START":
		return c.redPocket(dst)
	case "ONLINE_RANK_COUNT":
		return c.onlineRank(dst)
	case "WATCHED_CHANGE":
		return c.dataCounter(dst, "watched", "num")
	case "LIKE_INFO_V3_UPDATE":
		return c.dataCounter(dst, "likes", "click_count")
	case "ROOM_REAL_TIME_MESSAGE_UPDATE":
		return c.dataCounter(dst, "fans", "fans")
	}
	if roomCmds[c.b.Cmd] {
		return append(dst, c.roomEvent()), nil
	}
	return append(dst, c.other("")), nil
}

// combo decodes COMBO_SEND.
func (c *cmdCtx) combo(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	return append(dst, &Combo{
		Base: c.base(KindCombo), UID: c.i64(data.Get("uid")), Uname: str(data.Get("uname")),
		GiftID: c.i64(data.Get("gift_id")), GiftName: str(data.Get("gift_name")),
		ComboNum: c.nonneg(data.Get("combo_num")), TotalNum: c.nonneg(data.Get("total_num")),
		ComboTotalCoin: c.nonneg(data.Get("combo_total_coin")),
		ComboID:        str(data.Get("combo_id")), BatchComboID: str(data.Get("batch_combo_id")),
	}), nil
}

// superChat decodes SUPER_CHAT_MESSAGE and SUPER_CHAT_MESSAGE_JPN.
func (c *cmdCtx) superChat(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	ui := data.Get("user_info")
	mi := data.Get("medal_info")
	e := &SuperChat{
		Base: c.base(KindSuperChat), ID: c.i64(data.Get("id")), UID: c.i64(data.Get("uid")),
		Uname: str(ui.Get("uname")), Price: c.nonneg(data.Get("price")), Message: str(data.Get("message")),
		MessageTrans: str(data.Get("message_trans")), DurationS: c.i64(data.Get("time")),
		StartTime: c.i64(data.Get("start_time")), EndTime: c.i64(data.Get("end_time")),
		GuardLevel: c.i64(ui.Get("guard_level")), UserLevel: c.i64(ui.Get("user_level")),
		MedalLevel: c.i64(mi.Get("medal_level")), MedalName: str(mi.Get("medal_name")),
	}
	if e.Uname == "" {
		e.Uname = str(data.Get("uinfo", "base", "name"))
	}
	if e.StartTime != 0 {
		e.TsMs = c.times(e.StartTime, 1000, "data.start_time")
	}
	return append(dst, e), nil
}

// superChatDelete decodes SUPER_CHAT_MESSAGE_DELETE.
func (c *cmdCtx) superChatDelete(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	e := &SuperChatDelete{Base: c.base(KindSuperChatDelete), IDs: []int64{}}
	for _, id := range data.GetArray("ids") {
		e.IDs = append(e.IDs, c.i64(id))
	}
	return append(dst, e), nil
}

// guard decodes GUARD_BUY and USER_TOAST_MSG.
func (c *cmdCtx) guard(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	e := &Guard{
		Base: c.base(KindGuard), UID: c.i64(data.Get("uid")), Uname: str(data.Get("username")),
		GuardLevel: c.i64(data.Get("guard_level")), Num: c.nonneg(data.Get("num")), Price: c.nonneg(data.Get("price")),
		Unit: str(data.Get("unit")), GiftID: c.i64(data.Get("gift_id")),
		StartTime: c.i64(data.Get("start_time")), EndTime: c.i64(data.Get("end_time")),
		PayflowID: str(data.Get("payflow_id")), Source: c.i64(data.Get("source")),
		RoleName: str(data.Get("role_name")), ToastMsg: str(data.Get("toast_msg")),
	}
	if e.RoleName == "" {
		e.RoleName = str(data.Get("gift_name"))
	}
	if e.StartTime != 0 {
		e.TsMs = c.times(e.StartTime, 1000, "data.start_time")
	}
	return append(dst, e), nil
}

// guardV2 decodes USER_TOAST_MSG_V2 (docs/protocol.md §10.4):
// sender_uinfo{uid, base{name}}, guard_info{guard_level, role_name,
// op_type, start_time}, pay_info{price, num, unit, payflow_id},
// option{source}, toast_msg.
func (c *cmdCtx) guardV2(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	su, gi, pi := data.Get("sender_uinfo"), data.Get("guard_info"), data.Get("pay_info")
	e := &Guard{
		Base: c.base(KindGuard), UID: c.i64(su.Get("uid")), Uname: str(su.Get("base", "name")),
		GuardLevel: c.i64(gi.Get("guard_level")), Num: c.nonneg(pi.Get("num")), Price: c.nonneg(pi.Get("price")),
		Unit: str(pi.Get("unit")), GiftID: c.i64(data.Get("gift_info", "gift_id")),
		StartTime: c.i64(gi.Get("start_time")), EndTime: c.i64(gi.Get("end_time")),
		PayflowID: str(pi.Get("payflow_id")), Source: c.i64(data.Get("option", "source")),
		RoleName: str(gi.Get("role_name")), ToastMsg: str(data.Get("toast_msg")),
	}
	if e.PayflowID == "" {
		e.PayflowID = str(data.Get("payflow_id"))
	}
	if e.ToastMsg == "" {
		e.ToastMsg = str(gi.Get("toast_msg"))
	}
	if e.StartTime != 0 {
		e.TsMs = c.times(e.StartTime, 1000, "data.guard_info.start_time")
	}
	return append(dst, e), nil
}

// interact decodes INTERACT_WORD and LIKE_INFO_V3_CLICK (a like is an
// interaction of msg_type 6).
func (c *cmdCtx) interact(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	fm := data.Get("fans_medal")
	e := &Interact{
		Base: c.base(KindInteract), UID: c.i64(data.Get("uid")), Uname: str(data.Get("uname")),
		MsgType: c.i64(data.Get("msg_type")), TriggerTimeNs: c.i64(data.Get("trigger_time")),
		MedalLevel: c.i64(fm.Get("medal_level")), MedalName: str(fm.Get("medal_name")),
		MedalAnchor: c.i64(fm.Get("target_id")), GuardLevel: c.i64(fm.Get("guard_level")),
	}
	if e.Uname == "" {
		e.Uname = str(data.Get("uinfo", "base", "name"))
	}
	if c.b.Cmd == "LIKE_INFO_V3_CLICK" && e.MsgType == 0 {
		e.MsgType = 6
	}
	switch {
	case e.TriggerTimeNs > 0:
		e.TsMs = e.TriggerTimeNs / 1e6
	case c.i64(data.Get("timestamp")) > 0:
		e.TsMs = c.times(c.i64(data.Get("timestamp")), 1000, "data.timestamp")
	}
	return append(dst, e), nil
}

// redPocket decodes POPULARITY_RED_POCKET_START and its V2.
func (c *cmdCtx) redPocket(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	e := &RedPocket{
		Base: c.base(KindRedPocket), LotID: c.i64(data.Get("lot_id")), UID: c.i64(data.Get("sender_uid")),
		Uname: str(data.Get("sender_name")), Price: c.nonneg(data.Get("total_price")),
		StartTime: c.i64(data.Get("start_time")), EndTime: c.i64(data.Get("end_time")), Raw: c.raw(),
	}
	if e.UID == 0 {
		e.UID = c.i64(data.Get("sender_uinfo", "uid"))
	}
	if e.Uname == "" {
		e.Uname = str(data.Get("sender_uinfo", "base", "name"))
	}
	if e.TsMs == 0 && e.StartTime != 0 {
		e.TsMs = c.times(e.StartTime, 1000, "data.start_time")
	}
	return append(dst, e), nil
}

// onlineRank decodes ONLINE_RANK_COUNT: the counter online_rank_count,
// and online_count when the message has it.
func (c *cmdCtx) onlineRank(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	dst = append(dst, c.counter("online_rank_count", c.i64(data.Get("count"))))
	if oc := data.Get("online_count"); oc != nil {
		dst = append(dst, c.counter("online_count", c.i64(oc)))
	}
	return dst, nil
}

// dataCounter decodes a command that carries one counter, name, in
// data.field.
func (c *cmdCtx) dataCounter(dst []Event, name, field string) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	return append(dst, c.counter(name, c.i64(data.Get(field)))), nil
}

func (c *cmdCtx) data() (*fastjson.Value, error) {
	d := c.v.Get("data")
	if d == nil || d.Type() != fastjson.TypeObject {
		return nil, errShape(c.b.Cmd + ": data is not an object")
	}
	return d, nil
}

func (c *cmdCtx) counter(name string, v int64) *Counter {
	return &Counter{Base: c.base(KindCounter), Name: name, Value: v}
}

// roomCmds are the room-state and moderation commands decoded as KindRoom.
var roomCmds = map[string]bool{
	"LIVE": true, "PREPARING": true, "ROOM_CHANGE": true, "CUT_OFF": true, "CUT_OFF_V2": true,
	"WARNING": true, "ROOM_SILENT_ON": true, "ROOM_SILENT_OFF": true, "ROOM_BLOCK_MSG": true,
	"RECALL_DANMU_MSG": true, "LOG_IN_NOTICE": true, "ROOM_LOCK": true, "ROOM_ADMINS": true,
	"ROOM_ADMIN_ENTRANCE": true, "ROOM_ADMIN_REVOKE": true, "ROOM_SKIN_MSG": true,
	"CHANGE_ROOM_INFO": true, "ROOM_LIMIT": true,
}

func (c *cmdCtx) roomEvent() *Room {
	v := c.v
	data := v.Get("data")
	e := &Room{Base: c.base(KindRoom), Raw: c.raw()}
	switch c.b.Cmd {
	case "LIVE":
		e.Status = "live"
		e.LiveKey = str(v.Get("live_key"))
		e.LivePlatform = str(v.Get("live_platform"))
		e.LiveTime = c.i64(v.Get("live_time"))
		if e.LiveTime != 0 && e.TsMs == 0 {
			e.TsMs = c.times(e.LiveTime, 1000, "live_time")
		}
	case "PREPARING":
		e.Status = "preparing"
		if c.i64(v.Get("round")) == 1 {
			e.Status = "rotation"
		}
	case "ROOM_CHANGE":
		e.Title = str(data.Get("title"))
		e.AreaID = c.i64(data.Get("area_id"))
		e.AreaName = str(data.Get("area_name"))
		e.ParentAreaID = c.i64(data.Get("parent_area_id"))
		e.ParentAreaName = str(data.Get("parent_area_name"))
		e.LiveKey = str(data.Get("live_key"))
	case "CUT_OFF", "WARNING", "ROOM_LOCK":
		e.Message = str(v.Get("msg"))
	case "CUT_OFF_V2":
		e.Message = str(data.Get("cut_off_data", "cut_off_title"))
		for _, m := range data.GetArray("cut_off_data", "cut_off_message_list") {
			if s := str(m.Get("content")); s != "" {
				e.Message += "; " + str(m.Get("label")) + ": " + s
			}
		}
		if ts := c.i64(data.Get("timestamp")); ts != 0 && e.TsMs == 0 {
			e.TsMs = c.times(ts, 1000, "data.timestamp")
		}
	case "ROOM_SILENT_ON", "ROOM_SILENT_OFF":
		e.SilentType = str(data.Get("type"))
		e.SilentLevel = c.i64(data.Get("level"))
		e.SilentUntil = c.i64(data.Get("second"))
	case "ROOM_BLOCK_MSG":
		e.UID = c.i64(data.Get("uid"))
		if e.UID == 0 {
			e.UID = c.i64(v.Get("uid"))
		}
		e.Uname = str(data.Get("uname"))
		if e.Uname == "" {
			e.Uname = str(v.Get("uname"))
		}
		e.Operator = c.i64(data.Get("operator"))
	case "RECALL_DANMU_MSG":
		e.TargetID = c.i64(data.Get("target_id"))
	case "LOG_IN_NOTICE":
		e.Message = str(data.Get("notice_msg"))
	}
	return e
}

// danmaku decodes the DANMU_MSG family (docs/protocol.md §5.1).
func (c *cmdCtx) danmaku() (*Danmaku, error) {
	iv := c.v.Get("info")
	if iv == nil || iv.Type() != fastjson.TypeArray {
		return nil, errShape(c.b.Cmd + ": info is not an array")
	}
	info := iv.GetArray() // nil when empty
	// By type, not by a nil slice: an empty array's slice is nil or not
	// depending on what the parser's reused values held before.
	v0 := at(info, 0)
	if v0 == nil || v0.Type() != fastjson.TypeArray {
		return nil, errShape(c.b.Cmd + ": info[0] is not an array")
	}
	a0 := v0.GetArray()
	text := at(info, 1)
	if text == nil || text.Type() != fastjson.TypeString {
		// A danmaku is its text: without one it is no danmaku.
		return nil, errShape(c.b.Cmd + ": info[1] (text) is not a string")
	}
	e := &Danmaku{Base: c.base(KindDanmaku)}
	if ts := c.i64(at(a0, 4)); ts != 0 {
		e.TsMs = ts // else the envelope's send_time, if any
	}
	e.Mode = c.i64(at(a0, 1))
	e.FontSize = c.i64(at(a0, 2))
	e.Color = c.i64(at(a0, 3))
	e.Rnd = c.i64(at(a0, 5))
	e.MidHash = str(at(a0, 7))
	e.DmMsgType = c.i64(at(a0, 9))
	e.DmType = c.i64(at(a0, 12))
	if st := at(a0, 13); st != nil && st.Type() == fastjson.TypeObject {
		e.Emoticon = str(st.Get("emoticon_unique"))
	}
	e.Text = string(text.GetStringBytes())
	user := at(info, 2).GetArray()
	e.UID = c.i64(at(user, 0))
	e.Uname = str(at(user, 1))
	e.IsAdmin = c.i64(at(user, 2)) != 0
	if medal := at(info, 3).GetArray(); len(medal) > 0 {
		e.MedalLevel = c.i64(at(medal, 0))
		e.MedalName = str(at(medal, 1))
		e.MedalRoomID = c.i64(at(medal, 3))
		e.MedalAnchorUID = c.i64(at(medal, 12))
	}
	e.UserLevel = c.i64(at(at(info, 4).GetArray(), 0))
	e.GuardLevel = c.i64(at(info, 7))
	e.CheckTs = c.i64(at(info, 9).Get("ts"))
	e.CheckCt = str(at(info, 9).Get("ct"))
	e.WealthLevel = c.i64(at(at(info, 16).GetArray(), 0))
	e.IsMirror = c.b.Cmd == "DANMU_MSG_MIRROR"

	if mi := at(a0, 15); mi != nil {
		c.modeInfo(e, mi)
	}
	return e, nil
}

// modeInfo fills e from info[0][15], the mode_info object: the fields
// of its extra (a JSON document inside a JSON string; one that does not
// parse is no error, the danmaku keeps going without them), and the
// 2024+ user object where info[2] lacks the uid or name.
func (c *cmdCtx) modeInfo(e *Danmaku, mi *fastjson.Value) {
	if xs := mi.Get("extra"); xs != nil && xs.Type() == fastjson.TypeString {
		c.d.extra = append(c.d.extra[:0], xs.GetStringBytes()...)
		if x, err := c.d.px.ParseBytes(c.d.extra); err == nil {
			c.x = x
			if id := x.Get("id_str"); id != nil && id.Type() == fastjson.TypeString {
				e.IDStr = string(id.GetStringBytes())
			}
			e.ReplyUID = c.i64(x.Get("reply_mid"))
			e.ReplyUname = str(x.Get("reply_uname"))
			e.UserHash = str(x.Get("user_hash"))
			e.HitCombo = c.i64(x.Get("hit_combo"))
			if e.Emoticon == "" && e.DmType == 1 {
				e.Emoticon = str(x.Get("emoticon_unique"))
			}
			if x.GetBool("is_mirror") {
				e.IsMirror = true
			}
		}
	}
	if e.UID == 0 {
		// The 2024+ user object; 0 again on anonymous connections.
		e.UID = c.i64(mi.Get("user", "uid"))
	}
	if e.Uname == "" {
		e.Uname = str(mi.Get("user", "base", "name"))
	}
}

// gift decodes one SEND_GIFT data object.
func (c *cmdCtx) gift(data *fastjson.Value) (*Gift, error) {
	if data == nil || data.Type() != fastjson.TypeObject {
		return nil, errShape(c.b.Cmd + ": data is not an object")
	}
	mi := data.Get("medal_info")
	e := &Gift{
		Base: c.base(KindGift), UID: c.i64(data.Get("uid")), Uname: str(data.Get("uname")),
		GiftID: c.i64(data.Get("giftId")), GiftName: str(data.Get("giftName")),
		GiftType: c.i64(data.Get("giftType")), Num: c.nonneg(data.Get("num")), Price: c.nonneg(data.Get("price")),
		TotalCoin: c.nonneg(data.Get("total_coin")), CoinType: str(data.Get("coin_type")),
		TID: str(data.Get("tid")), Rnd: str(data.Get("rnd")), Action: str(data.Get("action")),
		GuardLevel: c.i64(data.Get("guard_level")), MedalLevel: c.i64(mi.Get("medal_level")),
		MedalName: str(mi.Get("medal_name")), MedalAnchor: c.i64(mi.Get("target_id")),
		ReceiverUID: c.i64(data.Get("receive_user_info", "uid")), ComboID: str(data.Get("batch_combo_id")),
	}
	if e.GiftID == 0 {
		e.GiftID = c.i64(data.Get("gift_id"))
	}
	if e.GiftName == "" {
		e.GiftName = str(data.Get("gift_name"))
	}
	if bg := data.Get("bag_gift"); bg != nil && (bg.Type() == fastjson.TypeObject || bg.Type() == fastjson.TypeTrue) {
		e.BagGift = true // §10.5: the backpack marker is a non-null object
	}
	if bg := data.Get("blind_gift"); bg != nil && bg.Type() == fastjson.TypeObject {
		// docs/protocol.md §10.5: total_coin is what the boxes cost,
		// combo_total_coin the prize's value; price/giftName are the prize.
		e.BlindGiftName = str(bg.Get("original_gift_name"))
		e.BlindPrice = c.nonneg(bg.Get("original_gift_price"))
		e.PrizeValue = c.nonneg(data.Get("combo_total_coin"))
		if e.PrizeValue == 0 {
			e.PrizeValue = c.times(e.Price, e.Num, "data.price × data.num")
		}
	}
	if ts := c.i64(data.Get("timestamp")); ts != 0 {
		e.TsMs = c.times(ts, 1000, "data.timestamp")
	}
	return e, nil
}

// internCmd returns a shared string for common commands so that decoding
// them does not allocate the name.
func internCmd(b []byte) string {
	switch string(b) {
	case "DANMU_MSG":
		return "DANMU_MSG"
	case "DANMU_MSG_MIRROR":
		return "DANMU_MSG_MIRROR"
	case "INTERACT_WORD":
		return "INTERACT_WORD"
	case "INTERACT_WORD_V2":
		return "INTERACT_WORD_V2"
	case "SEND_GIFT":
		return "SEND_GIFT"
	case "SEND_GIFT_V2":
		return "SEND_GIFT_V2"
	case "ONLINE_RANK_COUNT":
		return "ONLINE_RANK_COUNT"
	case "WATCHED_CHANGE":
		return "WATCHED_CHANGE"
	case "LIKE_INFO_V3_CLICK":
		return "LIKE_INFO_V3_CLICK"
	case "LIKE_INFO_V3_UPDATE":
		return "LIKE_INFO_V3_UPDATE"
	case "ENTRY_EFFECT":
		return "ENTRY_EFFECT"
	case "STOP_LIVE_ROOM_LIST":
		return "STOP_LIVE_ROOM_LIST"
	case "ONLINE_RANK_V3":
		return "ONLINE_RANK_V3"
	}
	return string(b)
}

// roomIDOf finds the room id a message names about itself: top-level
// roomid/room_id (LIVE, PREPARING as a string, SC, WARNING, CUT_OFF) or
// data.roomid (INTERACT_WORD, ROOM_REAL_TIME_MESSAGE_UPDATE).
func (c *cmdCtx) roomIDOf(v *fastjson.Value) int64 {
	for _, k := range [...]string{"roomid", "room_id"} {
		if id := c.i64(v.Get(k)); id > 0 {
			return id
		}
	}
	if d := v.Get("data"); d != nil && d.Type() == fastjson.TypeObject {
		if id := c.i64(d.Get("roomid")); id > 0 {
			return id
		}
	}
	return 0
}

// at returns a[i] or nil when out of range.
func at(a []*fastjson.Value, i int) *fastjson.Value {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// str reads a string; numbers come back as their exact JSON text, null and
// missing values as "".
func str(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return string(v.MarshalTo(nil))
	}
	return ""
}

// b64 decodes a base64 protobuf payload into the decoder's scratch buffer.
func (c *cmdCtx) b64(v *fastjson.Value) ([]byte, error) {
	if v == nil || v.Type() != fastjson.TypeString {
		return nil, errShape(c.b.Cmd + ": pb is not a string")
	}
	s := v.GetStringBytes()
	n := base64.StdEncoding.DecodedLen(len(s))
	if cap(c.d.pb) < n {
		c.d.pb = make([]byte, n)
	}
	m, err := base64.StdEncoding.Decode(c.d.pb[:n], s)
	if err != nil {
		return nil, errShape(c.b.Cmd + ": pb: " + err.Error())
	}
	return c.d.pb[:m], nil
}
