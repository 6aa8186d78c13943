package protocol

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// FrameDecoder turns whole WebSocket messages into events: framing and
// bundles (Decoder), then commands (CommandDecoder), then the packets that
// carry no command (heartbeat reply → popularity counter, auth, auth
// reply, client heartbeat, unknown operations → KindControl).
//
// Not safe for concurrent use; the zero value is ready.
type FrameDecoder struct {
	Packets  Decoder
	Commands CommandDecoder
	ap       fastjson.Parser
}

// DecodeMessage appends the events of one WebSocket message to dst.
// roomID, when not 0, is the connection's room (see CommandDecoder.Decode).
//
// errs holds, in order, a *CommandError for each op-5 body that is not a
// command (decoding goes on with the next packet) and at most one
// *FrameError, last, after which the rest of the message is undecodable.
// Events decoded before an error are kept.
func (f *FrameDecoder) DecodeMessage(dst []Event, msg []byte, roomID int64) (_ []Event, errs []error) {
	err := f.Packets.DecodeMessage(msg, func(p *Packet) error {
		var cerr error
		dst, cerr = f.PacketEvents(dst, p, roomID)
		if cerr != nil {
			errs = append(errs, cerr)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return dst, errs
}

// PacketEvents appends the events of one leaf packet to dst.
func (f *FrameDecoder) PacketEvents(dst []Event, p *Packet, roomID int64) ([]Event, error) {
	base := Base{Kind: KindControl, RoomID: roomID}
	switch {
	case p.Op == OpMessage && (p.Ver == VerJSON || p.Ver == VerInt):
		// Uncompressed commands; ver 1 is what legacy protover 1 sends.
		return f.Commands.Decode(dst, p.Body, roomID)
	case p.Op == OpHeartbeatReply:
		pop, ok := p.Popularity()
		if ok {
			base.Kind, base.Cmd = KindCounter, "HEARTBEAT_REPLY"
			return append(dst, &Counter{Base: base, Name: "popularity", Value: int64(pop)}), nil
		}
		base.Cmd = "HEARTBEAT_REPLY"
	case p.Op == OpAuthReply:
		base.Cmd = "AUTH_REPLY"
		c := &Control{Base: base, Op: p.Op, Ver: p.Ver, Seq: p.Seq}
		var code int64
		why := "no code"
		if v, err := f.ap.ParseBytes(p.Body); err == nil && v.Get("code") != nil {
			code, why = readInt(v.Get("code"))
		}
		if why == "" {
			c.Code = &code
		} else { // no code, or one that is no int64: the body as received
			setBody(c, p.Body)
		}
		return append(dst, c), nil
	case p.Op == OpAuth:
		base.Cmd = "AUTH"
		c := &Control{Base: base, Op: p.Op, Ver: p.Ver, Seq: p.Seq}
		if v, err := f.ap.ParseBytes(p.Body); err == nil && v.Type() == fastjson.TypeObject {
			if k := v.Get("key"); k != nil {
				c.KeyLen = len(k.GetStringBytes())
				v.Del("key") // tokens are secrets: never printed
			}
			if c.RoomID == 0 {
				c.RoomID, _ = readInt(v.Get("roomid")) // 0 when it does not fit
			}
			c.Auth = json.RawMessage(v.MarshalTo(nil))
		} else {
			c.BodyHex = hex.EncodeToString(p.Body)
		}
		return append(dst, c), nil
	case p.Op == OpHeartbeat:
		base.Cmd = "HEARTBEAT"
	default:
		base.Cmd = "OP_" + strconv.FormatUint(uint64(p.Op), 10)
	}
	c := &Control{Base: base, Op: p.Op, Ver: p.Ver, Seq: p.Seq}
	setBody(c, p.Body)
	return append(dst, c), nil
}

func setBody(c *Control, b []byte) {
	if utf8.Valid(b) {
		c.Body = string(b)
	} else {
		c.BodyHex = hex.EncodeToString(b)
	}
}
