package livesim

import (
	"encoding/base64"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// The generators below write commands in the shapes of PROTOCOL.md §5 and
// testdata/samples (key names and nesting as captured; values simulated).
// They append to dst so a tick can build a whole bundle without copying.

// Gift is one gift item; a blind box has BlindName set and Name/Price
// describing the prize.
type Gift struct {
	User      User
	ID        int64
	Name      string
	Num       int64
	Price     int64 // per unit, coins
	CoinType  string
	TID       string // unique gift id; equal in SEND_GIFT and SEND_GIFT_V2
	Timestamp int64  // unix s
	BlindName string
	BlindID   int64
	BlindCost int64 // the box's unit price, coins
	Anchor    User  // the receiver
	Bag       bool  // from the backpack: non-null bag_gift, full price in total_coin
	// Masked: the anonymous variant (uid 0, name cut to its first
	// character + "***"; avatar and medal stay real, §10.1).
	Masked bool
	// MsgID, when set, adds the top-level msg_id/p_is_ack/p_msg_type and
	// send_time (unix ms: SendTimeMs) of a command that expects an ack.
	MsgID      string
	SendTimeMs int64
}

// total is what was paid for item g: the box price for a blind box, else
// price × num (a backpack gift too).
func (g *Gift) total() int64 {
	if g.BlindName != "" {
		return g.BlindCost * g.Num
	}
	return g.Price * g.Num
}

// AppendSendGift appends a SEND_GIFT (2025 shape) for g. For a blind box
// total_coin is the box price and combo_total_coin the prize's value
// (§10.5).
func AppendSendGift(dst []byte, g *Gift) []byte {
	u := &g.User
	uid, name := u.UID, u.Name
	if g.Masked {
		uid, name = 0, maskName(name)
	}
	dst = append(dst, `{"cmd":"SEND_GIFT","danmu":{"area":1},"data":{"action":"投喂",`...)
	if g.Bag {
		dst = append(dst, `"bag_gift":{"price_for_show":`...)
		dst = appendInt(dst, g.Price)
		dst = append(dst, `,"show_price":1},`...)
	} else {
		dst = append(dst, `"bag_gift":null,`...)
	}
	dst = append(dst, `"batch_combo_id":"batch:gift:combo_id:`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, ':')
	dst = appendInt(dst, g.Anchor.UID)
	dst = append(dst, ':')
	dst = appendInt(dst, g.ID)
	dst = append(dst, ':')
	dst = appendInt(dst, g.Timestamp)
	dst = append(dst, `.7703","beatId":"0","biz_source":"Live",`...)
	if g.BlindName != "" {
		dst = append(dst, `"blind_gift":{"blind_gift_config_id":122,"from":0,"gift_action":"爆出","gift_tip_price":`...)
		dst = appendInt(dst, g.Price)
		dst = append(dst, `,"original_gift_id":`...)
		dst = appendInt(dst, g.BlindID)
		dst = append(dst, `,"original_gift_name":`...)
		dst = appendJSONString(dst, g.BlindName)
		dst = append(dst, `,"original_gift_price":`...)
		dst = appendInt(dst, g.BlindCost)
		dst = append(dst, `},`...)
	} else {
		dst = append(dst, `"blind_gift":null,`...)
	}
	dst = append(dst, `"broadcast_id":0,"coin_type":`...)
	dst = appendJSONString(dst, g.CoinType)
	dst = append(dst, `,"combo_resources_id":1,"combo_stay_time":5,"combo_total_coin":`...)
	dst = appendInt(dst, g.Price*g.Num) // a blind box: the prize's value
	dst = append(dst, `,"crit_prob":0,"demarcation":1,"discount_price":`...)
	dst = appendInt(dst, g.Price)
	dst = append(dst, `,"dmscore":42,"draw":0,"effect":0,"effect_block":0,"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","face_effect_id":0,"face_effect_type":0,"face_effect_v2":{"id":0,"type":0},"float_sc_resource_id":0,"giftId":`...)
	dst = appendInt(dst, g.ID)
	dst = append(dst, `,"giftName":`...)
	dst = appendJSONString(dst, g.Name)
	dst = append(dst, `,"giftType":0,"gift_info":{"effect_id":0,"has_imaged_gift":0,"img_basic":"`+giftImg+`"},"gift_tag":[],"gold":0,"guard_level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"is_first":true,"is_join_receiver":false,"is_naming":false,"is_special_batch":0,"magnification":1,"medal_info":{"anchor_roomid":0,"anchor_uname":"","guard_level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"icon_id":0,"is_lighted":1,"medal_color":9272486,"medal_color_border":9272486,"medal_color_end":9272486,"medal_color_start":9272486,"medal_level":`...)
	dst = appendInt(dst, u.MedalLevel)
	dst = append(dst, `,"medal_name":`...)
	dst = appendJSONString(dst, u.MedalName)
	dst = append(dst, `,"special":"","target_id":`...)
	dst = appendInt(dst, u.MedalRUID)
	dst = append(dst, `},"name_color":"","num":`...)
	dst = appendInt(dst, g.Num)
	dst = append(dst, `,"original_gift_name":"","price":`...)
	dst = appendInt(dst, g.Price)
	dst = append(dst, `,"rcost":5483419,"receive_user_info":{"uid":`...)
	dst = appendInt(dst, g.Anchor.UID)
	dst = append(dst, `,"uname":`...)
	dst = appendJSONString(dst, g.Anchor.Name)
	dst = append(dst, `},"remain":0,"rnd":"`...)
	dst = append(dst, g.TID...)
	dst = append(dst, `","sender_uinfo":{"base":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","is_mystery":false,"name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"name_color":0,"name_color_str":""},"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `},"silver":0,"super":0,"super_batch_gift_num":1,"super_gift_num":1,"svga_block":0,"switch":true,"tag_image":"","tid":"`...)
	dst = append(dst, g.TID...)
	dst = append(dst, `","timestamp":`...)
	dst = appendInt(dst, g.Timestamp)
	dst = append(dst, `,"total_coin":`...)
	dst = appendInt(dst, g.total())
	dst = append(dst, `,"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `,"uname":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"wealth_level":`...)
	dst = appendInt(dst, u.Wealth)
	dst = append(dst, '}')
	return appendAckTail(dst, g.MsgID, g.SendTimeMs)
}

// appendAckTail closes a command, adding the top-level fields of one that
// expects an ack when msgID is set (§2.7).
func appendAckTail(dst []byte, msgID string, sendTimeMs int64) []byte {
	if msgID != "" {
		dst = append(dst, `,"msg_id":"`...)
		dst = append(dst, msgID...)
		dst = append(dst, `","p_is_ack":true,"p_msg_type":1,"send_time":`...)
		dst = appendInt(dst, sendTimeMs)
	}
	return append(dst, '}')
}

// AppendSendGiftV2 appends a SEND_GIFT_V2: base64 protobuf
// (bilibili.live.gift.v1.SendGiftBroadcast) in data.pb holding every item
// of gifts in its gift list. All items share the sender. masked writes
// the anonymous variant: no uid (proto3 zero), name cut.
func AppendSendGiftV2(dst []byte, gifts []Gift, masked bool) []byte {
	u := &gifts[0].User
	var mArr [512]byte
	m := mArr[:0]
	if masked {
		m = pbString(m, 2, maskName(u.Name))
	} else {
		m = pbVarint(m, 1, uint64(u.UID))
		m = pbString(m, 2, u.Name)
	}
	m = pbString(m, 3, "https://i0.hdslb.com/bfs/face/member/noface.jpg")
	m = pbVarint(m, 5, uint64(u.GuardLevel))
	if u.MedalLevel > 0 {
		var mdArr [96]byte
		md := mdArr[:0]
		md = pbVarint(md, 1, uint64(u.MedalRUID))
		md = pbVarint(md, 4, uint64(u.MedalRoom))
		md = pbVarint(md, 5, uint64(u.MedalLevel))
		md = pbString(md, 6, u.MedalName)
		m = protowire.AppendTag(m, 8, protowire.BytesType)
		m = protowire.AppendBytes(m, md)
	}
	if g := &gifts[0]; g.BlindName != "" {
		var blArr [64]byte
		bl := blArr[:0]
		bl = pbString(bl, 3, g.BlindName)
		bl = pbVarint(bl, 6, uint64(g.BlindCost))
		m = protowire.AppendTag(m, 9, protowire.BytesType)
		m = protowire.AppendBytes(m, bl)
	}
	for i := range gifts {
		g := &gifts[i]
		var itArr [256]byte
		it := itArr[:0]
		it = pbVarint(it, 1, uint64(g.ID))
		it = pbString(it, 2, g.Name)
		it = pbVarint(it, 3, uint64(g.Num))
		it = pbVarint(it, 4, 0)
		it = pbVarint(it, 5, uint64(g.Price))
		if g.BlindName != "" {
			it = pbVarint(it, 6, uint64(g.total())) // discount_price: what the boxes cost
		}
		it = pbVarint(it, 7, uint64(g.Price*g.Num))
		it = pbString(it, 8, g.CoinType)
		it = pbString(it, 9, g.TID)
		it = pbVarint(it, 10, uint64(g.Timestamp))
		it = pbString(it, 12, g.TID)
		it = pbString(it, 18, "投喂")
		var infoArr [128]byte
		info := infoArr[:0]
		info = pbString(info, 1, giftImg)
		it = protowire.AppendTag(it, 35, protowire.BytesType)
		it = protowire.AppendBytes(it, info)
		m = protowire.AppendTag(m, 10, protowire.BytesType)
		m = protowire.AppendBytes(m, it)
	}
	m = pbVarint(m, 40, 1) // switch: shown by the web player
	dst = append(dst, `{"cmd":"SEND_GIFT_V2","data":{"pb":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, m)
	return append(dst, `"}}`...)
}

// giftImg is gift_info.img_basic (SEND_GIFT) and field 35.1 (SEND_GIFT_V2).
const giftImg = "https://s1.hdslb.com/bfs/live/8b40d0470890e7d573995383af8a8ae074d485d9.png"

// The protobuf messages are built in fixed arrays on the stack (their
// slices grow onto the heap only for an unusually large message): no
// allocation per command.

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// Interact describes an enter/follow/share.
type Interact struct {
	User        User
	MsgType     int64
	RoomID      int64
	TriggerTime int64 // ns; unique per room
	Masked      bool
}

// AppendInteractWord appends an INTERACT_WORD (2025 JSON shape).
func AppendInteractWord(dst []byte, e *Interact) []byte {
	uid, name := e.User.UID, e.User.Name
	if e.Masked {
		uid, name = 0, maskName(name)
	}
	u := &e.User
	dst = append(dst, `{"cmd":"INTERACT_WORD","data":{"contribution":{"grade":0},"contribution_v2":{"grade":0,"rank_type":"","text":""},"core_user_type":0,"dmscore":33,"fans_medal":{"anchor_roomid":`...)
	dst = appendInt(dst, u.MedalRoom)
	dst = append(dst, `,"guard_level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"icon_id":0,"is_lighted":1,"medal_color":6067854,"medal_color_border":12632256,"medal_color_end":12632256,"medal_color_start":12632256,"medal_level":`...)
	dst = appendInt(dst, u.MedalLevel)
	dst = append(dst, `,"medal_name":`...)
	dst = appendJSONString(dst, u.MedalName)
	dst = append(dst, `,"score":134,"special":"","target_id":`...)
	dst = appendInt(dst, u.MedalRUID)
	dst = append(dst, `},"identities":[1],"is_mystery":false,"is_spread":0,"msg_type":`...)
	dst = appendInt(dst, e.MsgType)
	dst = append(dst, `,"privilege_type":0,"roomid":`...)
	dst = appendInt(dst, e.RoomID)
	dst = append(dst, `,"score":`...)
	dst = appendInt(dst, e.TriggerTime/1e6)
	dst = append(dst, `,"spread_desc":"","spread_info":"","tail_icon":0,"tail_text":"","timestamp":`...)
	dst = appendInt(dst, e.TriggerTime/1e9)
	dst = append(dst, `,"trigger_time":`...)
	dst = appendInt(dst, e.TriggerTime)
	dst = append(dst, `,"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `,"uinfo":{"base":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","is_mystery":false,"name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"name_color":0,"name_color_str":""},"guard":{"expired_str":"","level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `},"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `,"wealth":{"dm_icon_key":"","level":`...)
	dst = appendInt(dst, u.Wealth)
	dst = append(dst, `}},"uname":`...)
	dst = appendJSONString(dst, name)
	return append(dst, `,"uname_color":""}}`...)
}

// AppendInteractWordV2 appends an INTERACT_WORD_V2: base64 protobuf in
// data.pb (fields of PROTOCOL.md §5.4). Masked omits the uid fields
// (proto3 zero, §10.1) and cuts the name.
func AppendInteractWordV2(dst []byte, e *Interact) []byte {
	uid, name := e.User.UID, e.User.Name
	if e.Masked {
		uid, name = 0, maskName(name)
	}
	u := &e.User
	var mArr [512]byte
	m := mArr[:0]
	if uid != 0 {
		m = pbVarint(m, 1, uint64(uid))
	}
	m = pbString(m, 2, name)
	m = protowire.AppendTag(m, 4, protowire.BytesType)
	m = protowire.AppendBytes(m, []byte{3, 1})
	m = pbVarint(m, 5, uint64(e.MsgType))
	m = pbVarint(m, 6, uint64(e.RoomID))
	m = pbVarint(m, 7, uint64(e.TriggerTime/1e9))
	m = pbVarint(m, 8, uint64(e.TriggerTime/1e6))
	if u.MedalLevel > 0 {
		var mdArr [96]byte
		md := mdArr[:0]
		md = pbVarint(md, 1, uint64(u.MedalRUID))
		md = pbVarint(md, 2, uint64(u.MedalLevel))
		md = pbString(md, 3, u.MedalName)
		md = pbVarint(md, 9, uint64(u.GuardLevel))
		md = pbVarint(md, 12, uint64(u.MedalRoom))
		m = protowire.AppendTag(m, 9, protowire.BytesType)
		m = protowire.AppendBytes(m, md)
	}
	m = pbVarint(m, 15, uint64(e.TriggerTime))
	var baseArr [128]byte
	base := baseArr[:0]
	base = pbString(base, 1, name)
	base = pbString(base, 2, "https://i0.hdslb.com/bfs/face/member/noface.jpg")
	var uiArr [160]byte
	ui := uiArr[:0]
	if uid != 0 {
		ui = pbVarint(ui, 1, uint64(uid))
	}
	ui = protowire.AppendTag(ui, 2, protowire.BytesType)
	ui = protowire.AppendBytes(ui, base)
	m = protowire.AppendTag(m, 22, protowire.BytesType)
	m = protowire.AppendBytes(m, ui)
	dst = append(dst, `{"cmd":"INTERACT_WORD_V2","data":{"dmscore":3,"pb":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, m)
	return append(dst, `"}}`...)
}

// AppendLikeClick appends a LIKE_INFO_V3_CLICK. Anonymous links get likes
// unmasked (§10.1); masked is kept for older captures' shape.
func AppendLikeClick(dst []byte, u *User, masked bool) []byte {
	uid, name := u.UID, u.Name
	if masked {
		uid, name = 0, maskName(name)
	}
	dst = append(dst, `{"cmd":"LIKE_INFO_V3_CLICK","data":{"contribution_info":{"grade":0},"dmscore":12,"fans_medal":{"anchor_roomid":0,"guard_level":0,"icon_id":0,"is_lighted":0,"medal_color":0,"medal_color_border":0,"medal_color_end":0,"medal_color_start":0,"medal_level":`...)
	dst = appendInt(dst, u.MedalLevel)
	dst = append(dst, `,"medal_name":`...)
	dst = appendJSONString(dst, u.MedalName)
	dst = append(dst, `,"score":0,"special":"","target_id":`...)
	dst = appendInt(dst, u.MedalRUID)
	dst = append(dst, `},"identities":[1],"is_mystery":false,"like_icon":"https://i0.hdslb.com/bfs/live/23678e3d90402bea6a65251b3e728044c21b1f0f.png","like_text":"为主播点赞了","msg_type":6,"show_area":0,"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `,"uinfo":{"base":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","is_mystery":false,"name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"name_color":0,"name_color_str":""},"guard":{"expired_str":"","level":0},"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `},"uname":`...)
	dst = appendJSONString(dst, name)
	return append(dst, `,"uname_color":""}}`...)
}

// SuperChat describes a paid message.
type SuperChat struct {
	User      User
	ID        int64
	Price     int64 // CNY
	Message   string
	Start     int64 // unix s
	Duration  int64 // s
	RoomID    int64
	JPN       bool // SUPER_CHAT_MESSAGE_JPN with string ids (sent only after the plain one)
	SendTimeM int64
	MsgID     string // top-level msg_id ("<n>:1000:1000")
}

// AppendSuperChat appends a SUPER_CHAT_MESSAGE (or _JPN, whose ids are
// strings on the wire).
func AppendSuperChat(dst []byte, s *SuperChat) []byte {
	u := &s.User
	cmd := "SUPER_CHAT_MESSAGE"
	if s.JPN {
		cmd = "SUPER_CHAT_MESSAGE_JPN"
	}
	id := strconv.FormatInt(s.ID, 10)
	uid := strconv.FormatInt(u.UID, 10)
	if s.JPN {
		id, uid = `"`+id+`"`, `"`+uid+`"`
	}
	dst = append(dst, `{"cmd":"`...)
	dst = append(dst, cmd...)
	dst = append(dst, `","data":{"background_bottom_color":"#427D9E","background_color":"#DBFFFD","background_color_end":"#29718B","background_color_start":"#4EA4C5","background_icon":"","background_image":"","background_price_color":"#7DA4BD","color_point":0.7,"dmscore":84,"end_time":`...)
	dst = appendInt(dst, s.Start+s.Duration)
	dst = append(dst, `,"gift":{"gift_id":12000,"gift_name":"醒目留言","num":1},"group_medal":{"is_lighted":0,"medal_id":0,"name":""},"id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"is_mystery":false,"is_ranked":0,"is_send_audit":1,"medal_info":{"anchor_roomid":`...)
	dst = appendInt(dst, u.MedalRoom)
	dst = append(dst, `,"anchor_uname":`...)
	dst = appendJSONString(dst, u.MedalOwner)
	dst = append(dst, `,"guard_level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"icon_id":0,"is_lighted":1,"medal_color":"#1a544b","medal_color_border":6809855,"medal_color_end":5414290,"medal_color_start":1725515,"medal_level":`...)
	dst = appendInt(dst, u.MedalLevel)
	dst = append(dst, `,"medal_name":`...)
	dst = appendJSONString(dst, u.MedalName)
	dst = append(dst, `,"special":"","target_id":`...)
	dst = appendInt(dst, u.MedalRUID)
	dst = append(dst, `},"message":`...)
	dst = appendJSONString(dst, s.Message)
	dst = append(dst, `,"message_font_color":"#A3F6FF",`...)
	if s.JPN {
		dst = append(dst, `"message_jpn":`...)
		dst = appendJSONString(dst, s.Message)
		dst = append(dst, ',')
	}
	dst = append(dst, `"message_trans":"","price":`...)
	dst = appendInt(dst, s.Price)
	dst = append(dst, `,"rate":1000,"start_time":`...)
	dst = appendInt(dst, s.Start)
	dst = append(dst, `,"time":`...)
	dst = appendInt(dst, s.Duration)
	dst = append(dst, `,"token":"79E6EF2D","trans_mark":0,"ts":`...)
	dst = appendInt(dst, s.Start)
	dst = append(dst, `,"uid":`...)
	dst = append(dst, uid...)
	dst = append(dst, `,"user_info":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","face_frame":"","guard_level":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"is_main_vip":0,"is_svip":0,"is_vip":0,"level_color":"#969696","manager":0,"name_color":"#666666","title":"","uname":`...)
	dst = appendJSONString(dst, u.Name)
	dst = append(dst, `,"user_level":`...)
	dst = appendInt(dst, u.UserLevel)
	dst = append(dst, `}},"is_report":true,"msg_id":"`...)
	dst = append(dst, s.MsgID...)
	dst = append(dst, `","p_is_ack":true,"p_msg_type":1,"roomid":`...)
	dst = appendInt(dst, s.RoomID)
	dst = append(dst, `,"send_time":`...)
	dst = appendInt(dst, s.SendTimeM)
	return append(dst, '}')
}

// AppendSuperChatDelete appends a SUPER_CHAT_MESSAGE_DELETE.
func AppendSuperChatDelete(dst []byte, roomID int64, ids ...int64) []byte {
	dst = append(dst, `{"cmd":"SUPER_CHAT_MESSAGE_DELETE","data":{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(dst, id)
	}
	dst = append(dst, `]},"roomid":`...)
	dst = appendInt(dst, roomID)
	return append(dst, '}')
}

// Guard describes a guard purchase; it is announced by both GUARD_BUY and
// USER_TOAST_MSG (and, in some rooms, USER_TOAST_MSG_V2).
type Guard struct {
	User      User
	Level     int64 // 1 governor, 2 admiral, 3 captain
	Num       int64
	ListPrice int64 // gold: GUARD_BUY's price
	Price     int64 // gold: the price paid, in the toasts (§10.4)
	Unit      string
	Start     int64 // unix s
	PayflowID string
	Anchor    User
	MsgID     string // USER_TOAST_MSG's top-level msg_id
}

var guardNames = [4]string{"", "总督", "提督", "舰长"}
var guardGift = [4]int64{0, 10001, 10002, 10003}

// guardList is the list price (gold) of a month of each level.
var guardList = [4]int64{0, 19998000, 1998000, 198000}

// toastMsg is the toast_msg text of a purchase.
func (g *Guard) toastMsg() string {
	return "<%" + g.User.Name + "%> 在主播" + g.Anchor.Name + "的直播间开通了" + guardNames[g.Level] + "，今天是TA陪伴主播的第1天"
}

// AppendGuardBuy appends a GUARD_BUY (2023 shape): the list price, no
// unit, start_time == end_time.
func AppendGuardBuy(dst []byte, g *Guard) []byte {
	dst = append(dst, `{"cmd":"GUARD_BUY","data":{"uid":`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `,"username":`...)
	dst = appendJSONString(dst, g.User.Name)
	dst = append(dst, `,"guard_level":`...)
	dst = appendInt(dst, g.Level)
	dst = append(dst, `,"num":`...)
	dst = appendInt(dst, g.Num)
	dst = append(dst, `,"price":`...)
	dst = appendInt(dst, g.ListPrice)
	dst = append(dst, `,"gift_id":`...)
	dst = appendInt(dst, guardGift[g.Level])
	dst = append(dst, `,"gift_name":`...)
	dst = appendJSONString(dst, guardNames[g.Level])
	dst = append(dst, `,"start_time":`...)
	dst = appendInt(dst, g.Start)
	dst = append(dst, `,"end_time":`...)
	dst = appendInt(dst, g.Start)
	return append(dst, `}}`...)
}

// AppendUserToast appends a USER_TOAST_MSG (2025 shape).
func AppendUserToast(dst []byte, g *Guard) []byte {
	dst = append(dst, `{"cmd":"USER_TOAST_MSG","data":{"anchor_show":true,"color":"#00D1F1","dmscore":204,"effect_id":397,"end_time":`...)
	dst = appendInt(dst, g.Start)
	dst = append(dst, `,"face_effect_id":44,"gift_id":`...)
	dst = appendInt(dst, guardGift[g.Level])
	dst = append(dst, `,"group_name":"","group_op_type":0,"group_role_name":"","guard_level":`...)
	dst = appendInt(dst, g.Level)
	dst = append(dst, `,"is_group":0,"is_show":0,"num":`...)
	dst = appendInt(dst, g.Num)
	dst = append(dst, `,"op_type":1,"payflow_id":"`...)
	dst = append(dst, g.PayflowID...)
	dst = append(dst, `","price":`...)
	dst = appendInt(dst, g.Price)
	dst = append(dst, `,"role_name":`...)
	dst = appendJSONString(dst, guardNames[g.Level])
	dst = append(dst, `,"room_effect_id":590,"room_gift_effect_id":0,"room_group_effect_id":1337,"source":0,"start_time":`...)
	dst = appendInt(dst, g.Start)
	dst = append(dst, `,"svga_block":0,"target_guard_count":168,"toast_msg":`...)
	dst = appendJSONString(dst, g.toastMsg())
	dst = append(dst, `,"uid":`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `,"unit":`...)
	dst = appendJSONString(dst, g.Unit)
	dst = append(dst, `,"user_show":true,"username":`...)
	dst = appendJSONString(dst, g.User.Name)
	dst = append(dst, '}')
	return appendAckTail(dst, g.MsgID, g.Start*1000+554)
}

// AppendUserToastV2 appends a USER_TOAST_MSG_V2 in the layout of
// PROTOCOL.md §10.4 (sender_uinfo, guard_info, pay_info with payflow_id,
// toast_msg, option.source: 0 paid, then 2 for the same purchase).
func AppendUserToastV2(dst []byte, g *Guard, source int64) []byte {
	dst = append(dst, `{"cmd":"USER_TOAST_MSG_V2","data":{"sender_uinfo":{"uid":`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `,"base":{"name":`...)
	dst = appendJSONString(dst, g.User.Name)
	dst = append(dst, `,"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg"}},"receiver_uinfo":{"uid":`...)
	dst = appendInt(dst, g.Anchor.UID)
	dst = append(dst, `,"base":{"name":`...)
	dst = appendJSONString(dst, g.Anchor.Name)
	dst = append(dst, `}},"guard_info":{"guard_level":`...)
	dst = appendInt(dst, g.Level)
	dst = append(dst, `,"role_name":`...)
	dst = appendJSONString(dst, guardNames[g.Level])
	dst = append(dst, `,"room_guard_count":168,"op_type":1,"start_time":`...)
	dst = appendInt(dst, g.Start)
	dst = append(dst, `,"end_time":`...)
	dst = appendInt(dst, g.Start)
	dst = append(dst, `},"group_guard_info":null,"pay_info":{"payflow_id":"`...)
	dst = append(dst, g.PayflowID...)
	dst = append(dst, `","price":`...)
	dst = appendInt(dst, g.Price)
	dst = append(dst, `,"num":`...)
	dst = appendInt(dst, g.Num)
	dst = append(dst, `,"unit":`...)
	dst = appendJSONString(dst, g.Unit)
	dst = append(dst, `},"gift_info":{"gift_id":`...)
	dst = appendInt(dst, guardGift[g.Level])
	dst = append(dst, `},"effect_info":{"effect_id":397,"room_effect_id":590,"face_effect_id":44,"room_gift_effect_id":0,"room_group_effect_id":1337},"toast_msg":`...)
	dst = appendJSONString(dst, g.toastMsg())
	dst = append(dst, `,"option":{"anchor_show":true,"user_show":true,"is_group":0,"is_show":0,"source":`...)
	dst = appendInt(dst, source)
	dst = append(dst, `,"svga_block":0,"color":"#00D1F1"}}}`...)
	return dst
}

// AppendCombo appends a COMBO_SEND.
func AppendCombo(dst []byte, g *Gift, combo int64) []byte {
	dst = append(dst, `{"cmd":"COMBO_SEND","data":{"action":"投喂","batch_combo_id":"batch:gift:combo_id:`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `","batch_combo_num":`...)
	dst = appendInt(dst, combo)
	dst = append(dst, `,"combo_id":"gift:combo_id:`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `","combo_num":`...)
	dst = appendInt(dst, combo)
	dst = append(dst, `,"combo_total_coin":`...)
	dst = appendInt(dst, combo*g.Price)
	dst = append(dst, `,"dmscore":112,"gift_id":`...)
	dst = appendInt(dst, g.ID)
	dst = append(dst, `,"gift_name":`...)
	dst = appendJSONString(dst, g.Name)
	dst = append(dst, `,"gift_num":0,"is_join_receiver":false,"is_naming":false,"is_show":1,"name_color":"","r_uname":`...)
	dst = appendJSONString(dst, g.Anchor.Name)
	dst = append(dst, `,"ruid":`...)
	dst = appendInt(dst, g.Anchor.UID)
	dst = append(dst, `,"send_master":null,"total_num":`...)
	dst = appendInt(dst, combo)
	dst = append(dst, `,"uid":`...)
	dst = appendInt(dst, g.User.UID)
	dst = append(dst, `,"uname":`...)
	dst = appendJSONString(dst, g.User.Name)
	return append(dst, `}}`...)
}

// AppendOnlineRankCount appends an ONLINE_RANK_COUNT (2025 form); msgID,
// when set, makes it one that expects an ack.
func AppendOnlineRankCount(dst []byte, count, online int64, msgID string, sendTimeMs int64) []byte {
	dst = append(dst, `{"cmd":"ONLINE_RANK_COUNT","data":{"count":`...)
	dst = appendInt(dst, count)
	dst = append(dst, `,"count_text":"`...)
	dst = appendInt(dst, count)
	dst = append(dst, `","online_count":`...)
	dst = appendInt(dst, online)
	dst = append(dst, `,"online_count_text":"`...)
	dst = appendInt(dst, online)
	dst = append(dst, `"}`...)
	return appendAckTail(dst, msgID, sendTimeMs)
}

// AppendWatched appends a WATCHED_CHANGE.
func AppendWatched(dst []byte, n int64) []byte {
	dst = append(dst, `{"cmd":"WATCHED_CHANGE","data":{"num":`...)
	dst = appendInt(dst, n)
	dst = append(dst, `,"text_small":"`...)
	dst = appendInt(dst, n)
	dst = append(dst, `","text_large":"`...)
	dst = appendInt(dst, n)
	return append(dst, `人看过"}}`...)
}

// AppendLikeUpdate appends a LIKE_INFO_V3_UPDATE.
func AppendLikeUpdate(dst []byte, n int64) []byte {
	dst = append(dst, `{"cmd":"LIKE_INFO_V3_UPDATE","data":{"click_count":`...)
	dst = appendInt(dst, n)
	return append(dst, `}}`...)
}

// AppendOnlineRankV3 appends an ONLINE_RANK_V3 with a small protobuf list.
func AppendOnlineRankV3(dst []byte, top []User) []byte {
	var mArr [512]byte
	m := mArr[:0]
	m = pbString(m, 1, "online_rank")
	for i, u := range top {
		var itArr [256]byte
		it := itArr[:0]
		it = pbVarint(it, 1, uint64(u.UID))
		it = pbString(it, 2, "https://i0.hdslb.com/bfs/face/member/noface.jpg")
		it = pbString(it, 3, strconv.Itoa(100*(len(top)-i)))
		it = pbString(it, 4, u.Name)
		it = pbVarint(it, 5, uint64(i+1))
		m = protowire.AppendTag(m, 3, protowire.BytesType)
		m = protowire.AppendBytes(m, it)
	}
	dst = append(dst, `{"cmd":"ONLINE_RANK_V3","data":{"pb":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, m)
	return append(dst, `"}}`...)
}

// AppendEntryEffect appends an ENTRY_EFFECT for a guard or wealthy user.
func AppendEntryEffect(dst []byte, u *User, anchorUID, triggerNs int64) []byte {
	dst = append(dst, `{"cmd":"ENTRY_EFFECT","data":{"id":380,"uid":`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, `,"target_id":`...)
	dst = appendInt(dst, anchorUID)
	dst = append(dst, `,"mock_effect":0,"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","privilege_type":`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,"copy_writing":`...)
	dst = appendJSONString(dst, "<%"+u.Name+"%> 来了")
	dst = append(dst, `,"copy_color":"#F7F7F7","highlight_color":"#FFFFFF","priority":1,"web_basemap_url":"https://i0.hdslb.com/bfs/live/mlive/19e7564ed9d466b02f341abfa979c6e38c2ffffb.png","trigger_time":`...)
	dst = appendInt(dst, triggerNs)
	dst = append(dst, `,"identities":1,"wealthy_info":{"level":`...)
	dst = appendInt(dst, u.Wealth)
	return append(dst, `}}}`...)
}

// AppendLive appends a LIVE; withTime adds live_time (only the first LIVE
// after a real start carries it).
func AppendLive(dst []byte, roomID int64, liveKey string, liveTime int64, withTime bool) []byte {
	dst = append(dst, `{"cmd":"LIVE","live_key":"`...)
	dst = append(dst, liveKey...)
	dst = append(dst, `","voice_background":"","sub_session_key":"`...)
	dst = append(dst, liveKey...)
	dst = append(dst, `sub_time:`...)
	dst = appendInt(dst, liveTime)
	dst = append(dst, `","live_platform":"pc_link","live_model":0,"roomid":`...)
	dst = appendInt(dst, roomID)
	if withTime {
		dst = append(dst, `,"live_time":`...)
		dst = appendInt(dst, liveTime)
	}
	return append(dst, '}')
}

// AppendPreparing appends a PREPARING (roomid is a string since 2025).
func AppendPreparing(dst []byte, roomID int64, msgID string, sendTimeMs int64) []byte {
	dst = append(dst, `{"cmd":"PREPARING","msg_id":"`...)
	dst = append(dst, msgID...)
	dst = append(dst, `","p_is_ack":true,"p_msg_type":1,"roomid":"`...)
	dst = appendInt(dst, roomID)
	dst = append(dst, `","send_time":`...)
	dst = appendInt(dst, sendTimeMs)
	return append(dst, '}')
}

// AppendStopLiveRoomList appends the site-wide STOP_LIVE_ROOM_LIST.
func AppendStopLiveRoomList(dst []byte, ids []int64) []byte {
	dst = append(dst, `{"cmd":"STOP_LIVE_ROOM_LIST","data":{"room_id_list":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(dst, id)
	}
	return append(dst, `]}}`...)
}

// AppendNotice appends a site-wide NOTICE_MSG banner.
func AppendNotice(dst []byte, roomID int64, anchor string) []byte {
	dst = append(dst, `{"cmd":"NOTICE_MSG","id":804,"name":"人气榜第一名","full":{"background":"#FFE6BD","color":"#9D5412","highlight":"#FF6933","time":20},"roomid":`...)
	dst = appendInt(dst, roomID)
	dst = append(dst, `,"real_roomid":`...)
	dst = appendInt(dst, roomID)
	dst = append(dst, `,"msg_common":`...)
	dst = appendJSONString(dst, "恭喜主播<%"+anchor+"%>荣获上小时人气榜第<%1%>名！")
	return append(dst, `,"msg_type":1,"shield_uid":-1,"business_id":"","scatter":{"min":0,"max":0},"marquee_id":"","notice_type":0}`...)
}

// AppendRealTime appends a ROOM_REAL_TIME_MESSAGE_UPDATE.
func AppendRealTime(dst []byte, roomID, fans int64) []byte {
	dst = append(dst, `{"cmd":"ROOM_REAL_TIME_MESSAGE_UPDATE","data":{"roomid":`...)
	dst = appendInt(dst, roomID)
	dst = append(dst, `,"fans":`...)
	dst = appendInt(dst, fans)
	return append(dst, `,"red_notice":-1,"fans_club":120}}`...)
}

// AppendWarning appends a WARNING.
func AppendWarning(dst []byte, roomID int64, msg string) []byte {
	dst = append(dst, `{"cmd":"WARNING","msg":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"roomid":`...)
	dst = appendInt(dst, roomID)
	return append(dst, '}')
}

// AppendSilent appends ROOM_SILENT_ON (until > 0) or ROOM_SILENT_OFF.
func AppendSilent(dst []byte, on bool, until int64) []byte {
	if on {
		dst = append(dst, `{"cmd":"ROOM_SILENT_ON","data":{"type":"member","level":1,"second":`...)
		dst = appendInt(dst, until)
		return append(dst, `}}`...)
	}
	return append(dst, `{"cmd":"ROOM_SILENT_OFF","data":{"type":"","level":0,"second":0}}`...)
}

// AppendRecall appends a RECALL_DANMU_MSG.
func AppendRecall(dst []byte, target int64) []byte {
	dst = append(dst, `{"cmd":"RECALL_DANMU_MSG","data":{"recall_type":2,"target_id":`...)
	dst = appendInt(dst, target)
	return append(dst, `}}`...)
}

// AppendBlock appends a ROOM_BLOCK_MSG (uid a string at top level).
func AppendBlock(dst []byte, u *User) []byte {
	dst = append(dst, `{"cmd":"ROOM_BLOCK_MSG","data":{"dmscore":30,"operator":2,"uid":`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, `,"uname":`...)
	dst = appendJSONString(dst, u.Name)
	dst = append(dst, `},"uid":"`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, `","uname":`...)
	dst = appendJSONString(dst, u.Name)
	return append(dst, '}')
}

// AppendUnknown appends a command no client knows yet.
func AppendUnknown(dst []byte, n int64) []byte {
	dst = append(dst, `{"cmd":"SIM_FUTURE_FEATURE_V9","data":{"seq":`...)
	dst = appendInt(dst, n)
	return append(dst, `,"payload":{"nested":[1,2,3],"big":18446744073709551615}}}`...)
}

// AppendLogInNotice appends the LOG_IN_NOTICE anonymous connections get
// right after the auth reply.
func AppendLogInNotice(dst []byte) []byte {
	return append(dst, `{"cmd":"LOG_IN_NOTICE","data":{"notice_msg":"为保护用户隐私，未登录无法查看他人昵称","image_web":"http://i0.hdslb.com/bfs/dm/75e7c16b99208df259fe0a93354fd3440cbab412.png","image_app":"http://i0.hdslb.com/bfs/dm/b632f7dcd3acf47deffb5f9ccc9546ae97a3415b.png"}}`...)
}

// RedPocket is one popularity red pocket (人气红包).
type RedPocket struct {
	LotID      int64
	Sender     User
	Start, End int64 // unix s
	Now        int64 // unix s: current_time of this broadcast
	TotalPrice int64 // gold
}

// AppendRedPocketV2 appends a POPULARITY_RED_POCKET_V2_START with the
// fields common clients read (lot_id, sender_*, the times, awards,
// total_price, sender_uinfo, …). Its start is re-broadcast while it
// lasts: one pocket is one lot_id (§10.6).
func AppendRedPocketV2(dst []byte, p *RedPocket) []byte {
	u := &p.Sender
	const face = "https://i0.hdslb.com/bfs/face/member/noface.jpg"
	dst = append(dst, `{"cmd":"POPULARITY_RED_POCKET_V2_START","data":{"lot_id":`...)
	dst = appendInt(dst, p.LotID)
	dst = append(dst, `,"sender_uid":`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, `,"sender_name":`...)
	dst = appendJSONString(dst, u.Name)
	dst = append(dst, `,"sender_face":"`+face+`","join_requirement":1,"danmu":"老板大气！点点红包抽礼物","current_time":`...)
	dst = appendInt(dst, p.Now)
	dst = append(dst, `,"start_time":`...)
	dst = appendInt(dst, p.Start)
	dst = append(dst, `,"end_time":`...)
	dst = appendInt(dst, p.End)
	dst = append(dst, `,"last_time":`...)
	dst = appendInt(dst, p.End-p.Start)
	dst = append(dst, `,"remove_time":`...)
	dst = appendInt(dst, p.End+15)
	dst = append(dst, `,"replace_time":`...)
	dst = appendInt(dst, p.End+10)
	dst = append(dst, `,"lot_status":1,"h5_url":"https://live.bilibili.com/p/html/live-app-red-envelope/popularity.html?is_live_half_webview=1&hybrid_biz=popularityRedPacket&lotteryId=`...)
	dst = appendInt(dst, p.LotID)
	dst = append(dst, `","user_status":2,"awards":[{"gift_id":31212,"gift_name":"打call","gift_pic":"https://s1.hdslb.com/bfs/live/461be640f60788c1d159ec8d6c5d5cf1ef3d1830.png","num":2},{"gift_id":31213,"gift_name":"这个好诶","gift_pic":"https://s1.hdslb.com/bfs/live/9260c680959428c45b3a2742e42ea7ae75e457ef.png","num":3}],"lot_config_id":4,"total_price":`...)
	dst = appendInt(dst, p.TotalPrice)
	dst = append(dst, `,"wait_num":0,"wait_num_v2":0,"is_mystery":false,"rp_type":0,"sender_uinfo":{"uid":`...)
	dst = appendInt(dst, u.UID)
	dst = append(dst, `,"base":{"name":`...)
	dst = appendJSONString(dst, u.Name)
	dst = append(dst, `,"face":"`+face+`","name_color":0,"is_mystery":false,"risk_ctrl_info":null,"origin_info":{"name":`...)
	dst = appendJSONString(dst, u.Name)
	dst = append(dst, `,"face":"`+face+`"},"official_info":{"role":0,"title":"","desc":"","type":-1},"name_color_str":""},"medal":null,"wealth":null,"title":null,"guard":null,"uhead_frame":null,"guard_leader":null},"icon_url":"","animation_icon_url":"","rp_guard_info":null}}`...)
	return dst
}
