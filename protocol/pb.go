package protocol

import (
	"errors"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the protobuf-in-JSON commands (docs/protocol.md §5.2, §5.4).
const (
	// bilibili.live.gift.v1.SendGiftBroadcast (SEND_GIFT_V2 data.pb). NovaBot's
	// map (§10.5) agrees on 9 and 10 and adds 15 uinfo{1 uid, 2 base{1 name}};
	// other fields (13 wealth, item 6 and 35 gift_info) are skipped.
	sgUID, sgUname, sgGuardLevel, sgMedal, sgBlind, sgGiftList, sgUinfo = 1, 2, 5, 8, 9, 10, 15
	// medal_info
	sgMedalTarget, sgMedalRoom, sgMedalLevel, sgMedalName = 1, 4, 5, 6
	// blind_gift
	sgBlindName, sgBlindPrice = 3, 6
	// gift_list item
	giID, giName, giNum, giType, giPrice, giTotalCoin, giCoinType, giTID, giTimestamp, giRnd, giAction = 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 18

	// INTERACT_WORD_V2 data.pb
	iwUID, iwUname, iwMsgType, iwRoomID, iwTimestamp, iwMedal, iwTrigger, iwUinfo = 1, 2, 5, 6, 7, 9, 15, 22
	// fans_medal
	iwMedalTarget, iwMedalLevel, iwMedalName, iwMedalGuard = 1, 2, 3, 9
	// uinfo{2 base{1 name}}
	uiBase, uiBaseName = 2, 1
)

var errProto = errors.New("malformed protobuf")

// pbField is one field of a protobuf message: its number and either a
// varint/fixed value or a length-delimited byte string.
type pbField struct {
	num   protowire.Number
	typ   protowire.Type
	u     uint64
	bytes []byte
}

// pbWalk calls fn for every field of the message in b, in order. Unknown
// fields and wire types are skipped; a truncated message is an error.
func pbWalk(b []byte, fn func(f pbField)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errProto
		}
		b = b[n:]
		f := pbField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errProto
		}
		b = b[n:]
		fn(f)
	}
	return nil
}

// pbInt reads an integer field of a protobuf command under name (for
// decode_error: "data.pb.uid"), by the rules of readInt: a varint or
// fixed value above math.MaxInt64 is recorded as out of int64 range and
// read as 0 (so uint64 1<<64-1 never becomes -1; a negative int64 on the
// wire reads the same way, and no field we read can be negative). A
// length-delimited value is decimal text (intText): a number that does
// not fit is recorded, text that is no number is 0.
func (c *cmdCtx) pbInt(f pbField, name string) int64 {
	if f.typ == protowire.BytesType {
		n, why, isNum := intText(f.bytes)
		if why != "" && isNum {
			c.failf(name + ": " + strconv.Quote(string(f.bytes)) + " " + why)
		}
		return n
	}
	if f.u > math.MaxInt64 {
		c.failf(name + ": " + strconv.FormatUint(f.u, 10) + " " + whyRange)
		return 0
	}
	return int64(f.u)
}

// pbAmount is pbInt for prices, coins and counts: negative (only
// possible as text) is recorded as well.
func (c *cmdCtx) pbAmount(f pbField, name string) int64 {
	n := c.pbInt(f, name)
	if n < 0 {
		c.failf(name + ": " + strconv.FormatInt(n, 10) + " " + whyNegative)
		return 0
	}
	return n
}

// string reads a string field; a varint comes back in decimal (ids are
// strings in JSON and may be numbers in protobuf).
func (f pbField) string() string {
	if f.typ == protowire.BytesType {
		return string(f.bytes)
	}
	return strconv.FormatUint(f.u, 10)
}

// giftV2 decodes SEND_GIFT_V2: one Gift per gift_list item.
func (c *cmdCtx) giftV2(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	pbv := data.Get("pb")
	if pbv == nil {
		pbv = data.Get("data", "pb") // some copies nest it once more
	}
	b, err := c.b64(pbv)
	if err != nil {
		return dst, err
	}
	proto := Gift{Base: c.base(KindGift)}
	items, blind, err := c.giftBroadcast(b, &proto)
	if err != nil {
		return dst, errShape("SEND_GIFT_V2: " + err.Error())
	}
	if len(items) == 0 {
		return dst, errShape("SEND_GIFT_V2: empty gift_list")
	}
	for _, it := range items {
		g := proto
		if err := c.giftListItem(&g, it); err != nil {
			return dst, errShape("SEND_GIFT_V2 gift_list: " + err.Error())
		}
		if blind {
			g.PrizeValue = c.times(g.Price, g.Num, "data.pb.gift_list price × num")
		}
		dst = append(dst, &g)
	}
	return dst, nil
}

// giftBroadcast reads the SendGiftBroadcast message in b: the sender,
// medal and blind box into proto (the fields every gift of the message
// shares), and returns the gift_list items still encoded, and whether the
// message has a blind box. uinfo's uid and name fill in a missing uid or
// uname. The error is pbWalk's (errProto).
func (c *cmdCtx) giftBroadcast(b []byte, proto *Gift) (items [][]byte, blind bool, err error) {
	var uinfoUID int64
	var uinfoName string
	err = pbWalk(b, func(f pbField) {
		switch f.num {
		case sgUID:
			proto.UID = c.pbInt(f, "data.pb.uid")
		case sgUname:
			proto.Uname = f.string()
		case sgGuardLevel:
			proto.GuardLevel = c.pbInt(f, "data.pb.guard_level")
		case sgMedal:
			_ = pbWalk(f.bytes, func(m pbField) {
				switch m.num {
				case sgMedalTarget:
					proto.MedalAnchor = c.pbInt(m, "data.pb.medal_info.target_id")
				case sgMedalLevel:
					proto.MedalLevel = c.pbInt(m, "data.pb.medal_info.level")
				case sgMedalName:
					proto.MedalName = m.string()
				}
			})
		case sgBlind:
			blind = f.typ == protowire.BytesType
			_ = pbWalk(f.bytes, func(m pbField) {
				switch m.num {
				case sgBlindName:
					proto.BlindGiftName = m.string()
				case sgBlindPrice:
					proto.BlindPrice = c.pbAmount(m, "data.pb.blind_gift.price")
				}
			})
		case sgGiftList:
			if f.typ == protowire.BytesType {
				items = append(items, f.bytes)
			}
		case sgUinfo:
			_ = pbWalk(f.bytes, func(u pbField) {
				switch u.num {
				case 1:
					uinfoUID = c.pbInt(u, "data.pb.uinfo.uid")
				case uiBase:
					_ = pbWalk(u.bytes, func(bf pbField) {
						if bf.num == uiBaseName && uinfoName == "" {
							uinfoName = bf.string()
						}
					})
				}
			})
		}
	})
	if proto.UID == 0 {
		proto.UID = uinfoUID
	}
	if proto.Uname == "" {
		proto.Uname = uinfoName
	}
	return items, blind, err
}

// giftListItem reads one gift_list item (it, still encoded) into g.
func (c *cmdCtx) giftListItem(g *Gift, it []byte) error {
	return pbWalk(it, func(f pbField) {
		switch f.num {
		case giID:
			g.GiftID = c.pbInt(f, "data.pb.gift_list.gift_id")
		case giName:
			g.GiftName = f.string()
		case giNum:
			g.Num = c.pbAmount(f, "data.pb.gift_list.num")
		case giType:
			g.GiftType = c.pbInt(f, "data.pb.gift_list.gift_type")
		case giPrice:
			g.Price = c.pbAmount(f, "data.pb.gift_list.price")
		case giTotalCoin:
			g.TotalCoin = c.pbAmount(f, "data.pb.gift_list.total_coin")
		case giCoinType:
			g.CoinType = f.string()
		case giTID:
			g.TID = f.string()
		case giTimestamp:
			g.TsMs = c.times(c.pbInt(f, "data.pb.gift_list.timestamp"), 1000, "data.pb.gift_list.timestamp")
		case giRnd:
			g.Rnd = f.string()
		case giAction:
			g.Action = f.string()
		}
	})
}

// interactV2 decodes INTERACT_WORD_V2.
func (c *cmdCtx) interactV2(dst []Event) ([]Event, error) {
	data, err := c.data()
	if err != nil {
		return dst, err
	}
	b, err := c.b64(data.Get("pb"))
	if err != nil {
		return dst, err
	}
	e := &Interact{Base: c.base(KindInteract)}
	var ts, room int64
	err = pbWalk(b, func(f pbField) {
		switch f.num {
		case iwUID:
			e.UID = c.pbInt(f, "data.pb.uid")
		case iwUname:
			e.Uname = f.string()
		case iwMsgType:
			e.MsgType = c.pbInt(f, "data.pb.msg_type")
		case iwRoomID:
			room = c.pbInt(f, "data.pb.roomid")
		case iwTimestamp:
			ts = c.pbInt(f, "data.pb.timestamp")
		case iwTrigger:
			e.TriggerTimeNs = c.pbInt(f, "data.pb.trigger_time")
		case iwMedal:
			_ = pbWalk(f.bytes, func(m pbField) {
				switch m.num {
				case iwMedalTarget:
					e.MedalAnchor = c.pbInt(m, "data.pb.fans_medal.target_id")
				case iwMedalLevel:
					e.MedalLevel = c.pbInt(m, "data.pb.fans_medal.medal_level")
				case iwMedalName:
					e.MedalName = m.string()
				case iwMedalGuard:
					e.GuardLevel = c.pbInt(m, "data.pb.fans_medal.guard_level")
				}
			})
		case iwUinfo:
			if e.Uname != "" {
				return
			}
			_ = pbWalk(f.bytes, func(u pbField) {
				if u.num == uiBase {
					_ = pbWalk(u.bytes, func(bf pbField) {
						if bf.num == uiBaseName && e.Uname == "" {
							e.Uname = bf.string()
						}
					})
				}
			})
		}
	})
	if err != nil {
		return dst, errShape("INTERACT_WORD_V2: " + err.Error())
	}
	if e.RoomID == 0 {
		e.RoomID = room
	}
	switch {
	case e.TriggerTimeNs > 0:
		e.TsMs = e.TriggerTimeNs / 1e6
	case ts > 0:
		e.TsMs = c.times(ts, 1000, "data.pb.timestamp")
	}
	return append(dst, e), nil
}
