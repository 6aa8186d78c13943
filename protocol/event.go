package protocol

import (
	"bytes"
	"encoding/json"
)

// Kind names an event's family in the canonical JSON form ("kind").
type Kind string

// Event kinds. The string values are a contract: `decode`, `export
// --format jsonl` and the storage tables use them.
const (
	KindDanmaku         Kind = "danmaku"
	KindGift            Kind = "gift"
	KindCombo           Kind = "combo"
	KindSuperChat       Kind = "super_chat"
	KindSuperChatDelete Kind = "super_chat_delete"
	KindGuard           Kind = "guard"
	KindInteract        Kind = "interact"
	KindCounter         Kind = "counter"
	KindRoom            Kind = "room"
	KindOther           Kind = "other"
	// KindRedPocket is a popularity red pocket (人气红包) starting:
	// POPULARITY_RED_POCKET_START and POPULARITY_RED_POCKET_V2_START.
	KindRedPocket Kind = "red_pocket"
	// KindControl covers packets that carry no command: auth, auth reply,
	// client heartbeat, and packets of unknown operations.
	KindControl Kind = "control"
)

// Base holds the fields every event has. Its JSON names are a contract.
type Base struct {
	Kind Kind `json:"kind"`
	// Cmd is the base command: everything before the first ':' of the
	// message's cmd ("DANMU_MSG:4:0:2:2:2:0" → "DANMU_MSG").
	Cmd string `json:"cmd"`
	// RoomID is the real room id, 0 when neither the message nor the
	// caller knows it.
	RoomID int64 `json:"room_id"`
	// TsMs is the server's time of the event in unix milliseconds when the
	// message carries one, else 0.
	TsMs int64 `json:"ts_ms"`
	// MsgID is the top-level msg_id of the 2026 message-level ack
	// (docs/protocol.md §2.7, §10.3), "" when absent: a JSON string's value, or
	// a number's digits. Dedupe re-sent messages by it.
	MsgID string `json:"msg_id,omitempty"`
	// MsgIDRaw is the msg_id token as received (JSON text, quotes
	// included for a string), for the op-24 ack body (Session.Ack); nil
	// when the message has no string or number msg_id.
	MsgIDRaw json.RawMessage `json:"-"`
	// PIsAck is the top-level p_is_ack: true asks a client that sent
	// support_ack for an op-24 ack.
	PIsAck bool `json:"p_is_ack,omitempty"`
	// PMsgType is the top-level p_msg_type (1 seen), 0 when absent.
	PMsgType int64 `json:"p_msg_type,omitempty"`
}

// Common returns the shared fields; every event type embeds Base.
func (b *Base) Common() *Base { return b }

// Event is one decoded event: *Danmaku, *Gift, *Combo, *SuperChat,
// *SuperChatDelete, *Guard, *Interact, *Counter, *Room, *RedPocket, *Other
// or *Control.
type Event interface {
	Common() *Base
}

// Danmaku is a chat message: DANMU_MSG (any suffix) and DANMU_MSG_MIRROR.
type Danmaku struct {
	Base
	UID   int64  `json:"uid"`   // 0 on anonymous connections (masked)
	Uname string `json:"uname"` // "X***" on anonymous connections
	Text  string `json:"text"`
	// IDStr is the unique danmaku id from info[0][15].extra; "" when the
	// message has none or extra does not parse.
	IDStr          string `json:"id_str"`
	Mode           int64  `json:"mode"`
	FontSize       int64  `json:"font_size"`
	Color          int64  `json:"color"`
	MidHash        string `json:"mid_hash"`
	DmType         int64  `json:"dm_type"`  // 0 text, 1 sticker, 2 voice
	Emoticon       string `json:"emoticon"` // sticker's unique id or ""
	MedalLevel     int64  `json:"medal_level"`
	MedalName      string `json:"medal_name"`
	MedalAnchorUID int64  `json:"medal_anchor_uid"`
	MedalRoomID    int64  `json:"medal_room_id"`
	GuardLevel     int64  `json:"guard_level"` // info[7]
	UserLevel      int64  `json:"user_level"`  // info[4][0]
	IsAdmin        bool   `json:"is_admin"`
	ReplyUID       int64  `json:"reply_uid"`
	ReplyUname     string `json:"reply_uname"`
	IsMirror       bool   `json:"is_mirror"`
	Rnd            int64  `json:"rnd"`          // info[0][5]
	WealthLevel    int64  `json:"wealth_level"` // info[16][0]
	DmMsgType      int64  `json:"dm_msg_type"`  // info[0][9]: 0 normal, 1 storm, 2 lottery
	UserHash       string `json:"user_hash"`    // extra.user_hash
	HitCombo       int64  `json:"hit_combo"`    // extra.hit_combo
	CheckTs        int64  `json:"check_ts"`     // info[9].ts, unix s
	CheckCt        string `json:"check_ct"`     // info[9].ct; with check_ts it matches dM/gethistory check_info
	Medal          *Medal `json:"medal,omitempty"`
}

// Medal is a fan medal as the danmaku info[3] array describes it.
type Medal struct {
	Level     int64  `json:"level"`
	Name      string `json:"name"`
	AnchorUID int64  `json:"anchor_uid"`
	RoomID    int64  `json:"room_id"`
	Lit       bool   `json:"lit"`
}

// Gift is one gift: SEND_GIFT, or one item of a SEND_GIFT_V2 gift list.
type Gift struct {
	Base
	UID       int64  `json:"uid"`
	Uname     string `json:"uname"`
	GiftID    int64  `json:"gift_id"`
	GiftName  string `json:"gift_name"`
	GiftType  int64  `json:"gift_type"`
	Num       int64  `json:"num"`
	Price     int64  `json:"price"`      // per unit, coins (1000 gold = 1 CNY)
	TotalCoin int64  `json:"total_coin"` // what was paid
	CoinType  string `json:"coin_type"`  // "gold" or "silver"
	// TID is the gift's unique id; the same in SEND_GIFT and SEND_GIFT_V2.
	TID           string `json:"tid"`
	Rnd           string `json:"rnd"`
	Action        string `json:"action"`
	BlindGiftName string `json:"blind_gift_name"` // "" unless a blind box
	// BlindPrice is the blind box's unit price (what one box costs); then
	// Price is the prize's unit price and TotalCoin what was paid for the
	// boxes (docs/protocol.md §5.2, §10.5).
	BlindPrice  int64  `json:"blind_price"`
	GuardLevel  int64  `json:"guard_level"`
	MedalLevel  int64  `json:"medal_level"`
	MedalName   string `json:"medal_name"`
	MedalAnchor int64  `json:"medal_anchor_uid"`
	ReceiverUID int64  `json:"receiver_uid"`
	ComboID     string `json:"batch_combo_id"`
	// BagGift: the gift came from the sender's backpack (SEND_GIFT with a
	// non-null data.bag_gift). TotalCoin still carries the full price.
	BagGift bool `json:"bag_gift"`
	// PrizeValue is, for a blind box, the prize's value in coins for the
	// whole item (SEND_GIFT: data.combo_total_coin, else price × num;
	// SEND_GIFT_V2: price × num); 0 for any other gift.
	PrizeValue int64 `json:"prize_value"`
}

// Combo is a COMBO_SEND summary of a gift combo.
type Combo struct {
	Base
	UID            int64  `json:"uid"`
	Uname          string `json:"uname"`
	GiftID         int64  `json:"gift_id"`
	GiftName       string `json:"gift_name"`
	ComboNum       int64  `json:"combo_num"`
	TotalNum       int64  `json:"total_num"`
	ComboTotalCoin int64  `json:"combo_total_coin"`
	ComboID        string `json:"combo_id"`
	BatchComboID   string `json:"batch_combo_id"`
}

// SuperChat is SUPER_CHAT_MESSAGE or SUPER_CHAT_MESSAGE_JPN.
type SuperChat struct {
	Base
	ID           int64  `json:"id"` // SC id, referenced by deletes
	UID          int64  `json:"uid"`
	Uname        string `json:"uname"`
	Price        int64  `json:"price"` // CNY
	Message      string `json:"message"`
	MessageTrans string `json:"message_trans"`
	DurationS    int64  `json:"duration_s"`
	StartTime    int64  `json:"start_time"` // unix s
	EndTime      int64  `json:"end_time"`   // unix s
	GuardLevel   int64  `json:"guard_level"`
	UserLevel    int64  `json:"user_level"`
	MedalLevel   int64  `json:"medal_level"`
	MedalName    string `json:"medal_name"`
}

// SuperChatDelete is SUPER_CHAT_MESSAGE_DELETE.
type SuperChatDelete struct {
	Base
	IDs []int64 `json:"ids"`
}

// Guard is a guard (大航海) purchase: GUARD_BUY, USER_TOAST_MSG,
// USER_TOAST_MSG_V2. GUARD_BUY's Price is the list price; the toasts
// carry the price actually paid (docs/protocol.md §10.4). The messages of one
// purchase share PayflowID (toasts only).
type Guard struct {
	Base
	UID        int64  `json:"uid"`
	Uname      string `json:"uname"`
	GuardLevel int64  `json:"guard_level"` // 1 governor, 2 admiral, 3 captain
	Num        int64  `json:"num"`
	Price      int64  `json:"price"` // gold coins (1000 = 1 CNY)
	Unit       string `json:"unit"`  // "月"; "" when the message has none
	GiftID     int64  `json:"gift_id"`
	StartTime  int64  `json:"start_time"` // unix s
	EndTime    int64  `json:"end_time"`
	PayflowID  string `json:"payflow_id"` // USER_TOAST_MSG(_V2) only
	Source     int64  `json:"source"`     // USER_TOAST_MSG(_V2): 0 paid, 2 gifted
	RoleName   string `json:"role_name"`
	// ToastMsg is the toast's text (USER_TOAST_MSG(_V2) toast_msg), with
	// its <%name%> markers as sent; "" for GUARD_BUY.
	ToastMsg string `json:"toast_msg,omitempty"`
}

// RedPocket is a popularity red pocket (人气红包) starting:
// POPULARITY_RED_POCKET_START or POPULARITY_RED_POCKET_V2_START. The
// server re-broadcasts a running pocket about every 10 minutes: one
// pocket is one LotID (docs/protocol.md §10.6).
type RedPocket struct {
	Base
	LotID int64  `json:"lot_id"`
	UID   int64  `json:"uid"`   // the sender (sender_uid)
	Uname string `json:"uname"` // sender_name, else sender_uinfo.base.name
	// Price is the pocket's total price (total_price) in gold coins
	// (1000 = 1 CNY).
	Price     int64           `json:"price"`
	StartTime int64           `json:"start_time"` // unix s
	EndTime   int64           `json:"end_time"`   // unix s
	Raw       json.RawMessage `json:"raw"`
}

// Interact is an enter/follow/share/like: INTERACT_WORD, INTERACT_WORD_V2,
// LIKE_INFO_V3_CLICK.
type Interact struct {
	Base
	UID   int64  `json:"uid"` // 0 on anonymous connections
	Uname string `json:"uname"`
	// MsgType: 1 enter, 2 follow, 3 share, 4 special follow, 5 mutual
	// follow, 6 like.
	MsgType       int64  `json:"msg_type"`
	TriggerTimeNs int64  `json:"trigger_time_ns"` // 0 when absent
	MedalLevel    int64  `json:"medal_level"`
	MedalName     string `json:"medal_name"`
	MedalAnchor   int64  `json:"medal_anchor_uid"`
	GuardLevel    int64  `json:"guard_level"`
}

// Counter is a numeric room figure: popularity (heartbeat reply),
// online_rank_count / online_count (ONLINE_RANK_COUNT), watched
// (WATCHED_CHANGE), likes (LIKE_INFO_V3_UPDATE), fans (ROOM_REAL_TIME_
// MESSAGE_UPDATE).
type Counter struct {
	Base
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// Room is a room-state or moderation message: LIVE, PREPARING,
// ROOM_CHANGE, CUT_OFF, CUT_OFF_V2, WARNING, ROOM_SILENT_ON/OFF,
// ROOM_BLOCK_MSG, RECALL_DANMU_MSG, LOG_IN_NOTICE, ROOM_LOCK and the like.
// Fields a command does not carry stay empty; Raw keeps the whole object.
type Room struct {
	Base
	Status         string          `json:"status,omitempty"` // "live", "preparing", "rotation" for LIVE/PREPARING
	Title          string          `json:"title,omitempty"`
	AreaID         int64           `json:"area_id,omitempty"`
	AreaName       string          `json:"area_name,omitempty"`
	ParentAreaID   int64           `json:"parent_area_id,omitempty"`
	ParentAreaName string          `json:"parent_area_name,omitempty"`
	LiveKey        string          `json:"live_key,omitempty"`
	LivePlatform   string          `json:"live_platform,omitempty"`
	LiveTime       int64           `json:"live_time,omitempty"` // unix s
	Message        string          `json:"message,omitempty"`   // WARNING/CUT_OFF msg, LOG_IN_NOTICE text
	UID            int64           `json:"uid,omitempty"`       // ROOM_BLOCK_MSG target
	Uname          string          `json:"uname,omitempty"`
	Operator       int64           `json:"operator,omitempty"`
	SilentType     string          `json:"silent_type,omitempty"`
	SilentLevel    int64           `json:"silent_level,omitempty"`
	SilentUntil    int64           `json:"silent_until,omitempty"` // unix s
	TargetID       int64           `json:"target_id,omitempty"`    // RECALL_DANMU_MSG
	Raw            json.RawMessage `json:"raw"`
}

// Other is any command without a typed decoder, or a known command whose
// shape did not match (DecodeError says why). Nothing is dropped.
type Other struct {
	Base
	DecodeError string          `json:"decode_error,omitempty"`
	Raw         json.RawMessage `json:"raw"`
}

// Control is a packet that carries no command. Cmd is "AUTH",
// "AUTH_REPLY", "HEARTBEAT" or "OP_<n>" for unknown operations.
type Control struct {
	Base
	Op  uint32 `json:"op"`
	Ver uint16 `json:"ver"`
	Seq uint32 `json:"seq"`
	// Auth is the auth packet's JSON with the token ("key") removed:
	// tokens are secrets and never printed.
	Auth    json.RawMessage `json:"auth,omitempty"`
	KeyLen  int             `json:"key_len,omitempty"`
	Code    *int64          `json:"code,omitempty"` // AUTH_REPLY
	Body    string          `json:"body,omitempty"` // text bodies
	BodyHex string          `json:"body_hex,omitempty"`
}

// AppendJSON appends the canonical JSON form of e (one object, no trailing
// newline) to dst. Strings are not HTML-escaped, numbers are exact.
func AppendJSON(dst []byte, e Event) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return dst, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // drop Encode's newline
}
