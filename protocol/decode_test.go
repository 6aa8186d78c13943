package protocol_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/andybalholm/brotli"
	"github.com/danmakud/danmakud/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// decodeSample decodes one sample command body with the connection's room
// unknown.
func decodeSample(t *testing.T, name string) []protocol.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(samplesDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeBody(t, body)
}

func decodeBody(t *testing.T, body []byte) []protocol.Event {
	t.Helper()
	var cd protocol.CommandDecoder
	evs, err := cd.Decode(nil, body, 0)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return evs
}

func one[T protocol.Event](t *testing.T, evs []protocol.Event) T {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	e, ok := evs[0].(T)
	if !ok {
		t.Fatalf("want %T, got %T (%+v)", *new(T), evs[0], evs[0])
	}
	return e
}

func eq[V comparable](t *testing.T, what string, got, want V) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestDanmakuFields(t *testing.T) {
	d := one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_1"))
	eq(t, "kind", d.Kind, protocol.KindDanmaku)
	eq(t, "ts_ms", d.TsMs, int64(1723979200649))
	eq(t, "uid", d.UID, int64(6088969))
	eq(t, "uname", d.Uname, "tim1997")
	eq(t, "text", d.Text, "白花300块[热]")
	eq(t, "id_str", d.IDStr, "364b06e3c561af3d5921f1253d66c1d575")
	eq(t, "medal", d.MedalName, "果咩吖")
	eq(t, "medal_level", d.MedalLevel, int64(29))
	eq(t, "medal_room_id", d.MedalRoomID, int64(31180317))
	eq(t, "medal_anchor_uid", d.MedalAnchorUID, int64(3546569288714792))
	eq(t, "user_level", d.UserLevel, int64(39))
	eq(t, "mid_hash", d.MidHash, "0bc8acd0")
	eq(t, "rnd (negative int32)", d.Rnd, int64(-1312973962))
	eq(t, "color", d.Color, int64(9920249))
	eq(t, "is_mirror", d.IsMirror, false)
}

func TestDanmakuSticker(t *testing.T) {
	// info[0][13] is an object for stickers, and info[2][1] is "" with a
	// user object that carries only uid and title.
	d := one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_8"))
	eq(t, "dm_type", d.DmType, int64(1))
	eq(t, "emoticon", d.Emoticon, "upower_[舰长_挥手]")
	eq(t, "uid", d.UID, int64(1566785056))
	eq(t, "uname", d.Uname, "")
	eq(t, "user_level from \">50000\" rank array", d.UserLevel, int64(10))
}

func TestDanmakuSuffixAndMasked(t *testing.T) {
	// cmd "DANMU_MSG:3:7:1:1:1:1", masked sender, info[3] null, short info.
	d := one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_14"))
	eq(t, "cmd", d.Cmd, "DANMU_MSG")
	eq(t, "mode", d.Mode, int64(7))
	eq(t, "font_size", d.FontSize, int64(100))
	eq(t, "uid", d.UID, int64(0))
	eq(t, "uname", d.Uname, "***")
	eq(t, "medal", d.MedalName, "")
	eq(t, "id_str", d.IDStr, "")
}

func TestDanmakuOldShape(t *testing.T) {
	// 2020: 11-element info[0], no extra, no id.
	d := one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_19"))
	eq(t, "text", d.Text, "牛")
	eq(t, "uid", d.UID, int64(35230233))
	eq(t, "id_str", d.IDStr, "")
	eq(t, "medal_room_id", d.MedalRoomID, int64(1267917))
	eq(t, "medal_anchor_uid (absent)", d.MedalAnchorUID, int64(0))
}

func TestDanmakuMirror(t *testing.T) {
	d := one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_MIRROR_1"))
	eq(t, "cmd", d.Cmd, "DANMU_MSG_MIRROR")
	eq(t, "is_mirror", d.IsMirror, true)
	eq(t, "kind", d.Kind, protocol.KindDanmaku)
}

func TestDanmakuMalformedExtra(t *testing.T) {
	// extra that is not JSON: the danmaku still decodes, without its id.
	body := []byte(`{"cmd":"DANMU_MSG","info":[[0,1,25,16777215,1700000000123,1,0,"abcd1234",0,0,0,"",0,"{}","{}",{"extra":"{\"id_str\":\"deadbeef","mode":0}],"hi",[42,"bob",1,0,0,10000,1,""],[],[3],["",""],0,2]}`)
	d := one[*protocol.Danmaku](t, decodeBody(t, body))
	eq(t, "text", d.Text, "hi")
	eq(t, "uid", d.UID, int64(42))
	eq(t, "is_admin", d.IsAdmin, true)
	eq(t, "guard_level", d.GuardLevel, int64(2))
	eq(t, "id_str", d.IDStr, "")
}

func TestDanmakuBigNumbers(t *testing.T) {
	// info[0][5] may be a 64-bit value beyond 2^53.
	body := []byte(`{"cmd":"DANMU_MSG","info":[[0,1,25,1,1700000000000,3745805152027139263,0,"h",0,0,0,"",0,"{}","{}",{"extra":"{\"id_str\":\"x1\",\"reply_mid\":9007199254740993}"}],"t",[9007199254740993,"u"],[],[],[],0,0]}`)
	d := one[*protocol.Danmaku](t, decodeBody(t, body))
	eq(t, "rnd", d.Rnd, int64(3745805152027139263))
	eq(t, "uid", d.UID, int64(9007199254740993))
	eq(t, "reply_uid", d.ReplyUID, int64(9007199254740993))
	eq(t, "id_str", d.IDStr, "x1")
}

func TestDanmakuWrongShapeIsKept(t *testing.T) {
	body := []byte(`{"cmd":"DANMU_MSG","info":"not an array"}`)
	o := one[*protocol.Other](t, decodeBody(t, body))
	eq(t, "cmd", o.Cmd, "DANMU_MSG")
	if o.DecodeError == "" || !bytes.Equal(o.Raw, body) {
		t.Errorf("want decode_error and the raw body, got %q %s", o.DecodeError, o.Raw)
	}
}

func TestInteractV2Protobuf(t *testing.T) {
	e := one[*protocol.Interact](t, decodeSample(t, "INTERACT_WORD_V2_1"))
	eq(t, "uid", e.UID, int64(439367700))
	eq(t, "uname", e.Uname, "StarSea246")
	eq(t, "msg_type", e.MsgType, int64(1))
	eq(t, "room_id", e.RoomID, int64(544853))
	eq(t, "trigger_time_ns (> 2^53)", e.TriggerTimeNs, int64(1751716523239264129))
	eq(t, "medal", e.MedalName, "生态")
}

func TestInteractTriggerTimeExact(t *testing.T) {
	e := one[*protocol.Interact](t, decodeSample(t, "INTERACT_WORD_1"))
	eq(t, "trigger_time_ns", e.TriggerTimeNs, int64(1644563947876475000))
	eq(t, "ts_ms", e.TsMs, int64(1644563947876))
	eq(t, "room_id", e.RoomID, int64(24143902))
}

func TestLikeClick(t *testing.T) {
	e := one[*protocol.Interact](t, decodeSample(t, "LIKE_INFO_V3_CLICK_1"))
	eq(t, "msg_type", e.MsgType, int64(6))
	eq(t, "uname", e.Uname, "MeiDngS")
}

// sendGiftV2 builds a SEND_GIFT_V2 body the way the 2026 service does:
// base64 protobuf in data.pb, here with a blind box holding two prizes.
func sendGiftV2(t testing.TB) []byte {
	t.Helper()
	var item = func(id int64, name, tid string, price, num int64) []byte {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(id))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, name)
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(num))
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(price))
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(price*num))
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendString(b, "gold")
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendString(b, tid)
		b = protowire.AppendTag(b, 10, protowire.VarintType)
		b = protowire.AppendVarint(b, 1780000000)
		return b
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 3546569288714792)
	m = protowire.AppendTag(m, 2, protowire.BytesType)
	m = protowire.AppendString(m, "送礼人")
	var blind []byte
	blind = protowire.AppendTag(blind, 3, protowire.BytesType)
	blind = protowire.AppendString(blind, "心动盲盒")
	blind = protowire.AppendTag(blind, 6, protowire.VarintType)
	blind = protowire.AppendVarint(blind, 15000)
	m = protowire.AppendTag(m, 9, protowire.BytesType)
	m = protowire.AppendBytes(m, blind)
	for _, it := range [][]byte{item(32251, "小蛋糕", "1780000000123450001", 5200, 1), item(32132, "棉花糖", "1780000000123450002", 9900, 2)} {
		m = protowire.AppendTag(m, 10, protowire.BytesType)
		m = protowire.AppendBytes(m, it)
	}
	return []byte(`{"cmd":"SEND_GIFT_V2","data":{"pb":"` + base64.StdEncoding.EncodeToString(m) + `"}}`)
}

func TestSendGiftV2(t *testing.T) {
	evs := decodeBody(t, sendGiftV2(t))
	if len(evs) != 2 {
		t.Fatalf("want one event per gift_list item, got %d", len(evs))
	}
	g := evs[1].(*protocol.Gift)
	eq(t, "kind", g.Kind, protocol.KindGift)
	eq(t, "cmd", g.Cmd, "SEND_GIFT_V2")
	eq(t, "uid", g.UID, int64(3546569288714792))
	eq(t, "uname", g.Uname, "送礼人")
	eq(t, "gift", g.GiftName, "棉花糖")
	eq(t, "num", g.Num, int64(2))
	eq(t, "total_coin", g.TotalCoin, int64(19800))
	eq(t, "tid", g.TID, "1780000000123450002")
	eq(t, "blind", g.BlindGiftName, "心动盲盒")
	eq(t, "ts_ms", g.TsMs, int64(1780000000000))
	eq(t, "first tid", evs[0].(*protocol.Gift).TID, "1780000000123450001")
}

func TestSendGiftBlindBox(t *testing.T) {
	g := one[*protocol.Gift](t, decodeSample(t, "SEND_GIFT_6"))
	eq(t, "blind_gift_name", g.BlindGiftName, "整蛊盲盒")
	eq(t, "gift_name (the prize)", g.GiftName, "小丑气球")
	eq(t, "tid", g.TID, "4623470640584770048")
	eq(t, "coin_type", g.CoinType, "gold")
}

func TestSuperChatStringIDs(t *testing.T) {
	body := []byte(`{"cmd":"SUPER_CHAT_MESSAGE_JPN","data":{"id":"8912345","uid":"12345","price":50,"message":"hi","message_jpn":"やあ","start_time":1700000000,"end_time":1700000120,"time":120,"user_info":{"uname":"sc"}},"roomid":"777"}`)
	sc := one[*protocol.SuperChat](t, decodeBody(t, body))
	eq(t, "id", sc.ID, int64(8912345))
	eq(t, "uid", sc.UID, int64(12345))
	eq(t, "ts_ms", sc.TsMs, int64(1700000000000))
	eq(t, "duration_s", sc.DurationS, int64(120))
	eq(t, "room_id", sc.RoomID, int64(777))
	eq(t, "cmd", sc.Cmd, "SUPER_CHAT_MESSAGE_JPN")
}

func TestSuperChatDelete(t *testing.T) {
	d := one[*protocol.SuperChatDelete](t, decodeSample(t, "SUPER_CHAT_MESSAGE_DELETE_1"))
	if len(d.IDs) != 1 || d.IDs[0] != 3897503 {
		t.Errorf("ids = %v", d.IDs)
	}
}

func TestGuardForms(t *testing.T) {
	g := one[*protocol.Guard](t, decodeSample(t, "GUARD_BUY_1"))
	eq(t, "uname from username", g.Uname, "妙妙喵喵妙妙喵O_O")
	eq(t, "price", g.Price, int64(198000))
	g = one[*protocol.Guard](t, decodeSample(t, "USER_TOAST_MSG_3"))
	eq(t, "unit", g.Unit, "月")
	eq(t, "guard_level", g.GuardLevel, int64(3))
	v2 := []byte(`{"cmd":"USER_TOAST_MSG_V2","data":{"sender_uinfo":{"uid":11,"base":{"name":"舰长君"}},"guard_info":{"guard_level":2,"start_time":1780000000,"end_time":1782592000},"pay_info":{"num":1,"price":1998000,"unit":"月"},"gift_info":{"gift_id":10002},"option":{"source":2}}}`)
	g = one[*protocol.Guard](t, decodeBody(t, v2))
	eq(t, "v2 uid", g.UID, int64(11))
	eq(t, "v2 uname", g.Uname, "舰长君")
	eq(t, "v2 level", g.GuardLevel, int64(2))
	eq(t, "v2 price", g.Price, int64(1998000))
	eq(t, "v2 source", g.Source, int64(2))
}

func TestCounters(t *testing.T) {
	evs := decodeSample(t, "ONLINE_RANK_COUNT_1")
	if len(evs) != 2 {
		t.Fatalf("ONLINE_RANK_COUNT: want 2 events, got %d", len(evs))
	}
	eq(t, "first", evs[0].(*protocol.Counter).Name, "online_rank_count")
	eq(t, "second", evs[1].(*protocol.Counter).Name, "online_count")
	only := decodeBody(t, []byte(`{"cmd":"ONLINE_RANK_COUNT","data":{"count":5}}`))
	eq(t, "2021 form yields one event", len(only), 1)
	c := one[*protocol.Counter](t, decodeSample(t, "WATCHED_CHANGE_1"))
	eq(t, "watched", c.Value, int64(17903))
	c = one[*protocol.Counter](t, decodeSample(t, "LIKE_INFO_V3_UPDATE_1"))
	eq(t, "likes", c.Name, "likes")
}

func TestRoomEvents(t *testing.T) {
	r := one[*protocol.Room](t, decodeSample(t, "PREPARING_1"))
	eq(t, "room id from a string", r.RoomID, int64(1899237171))
	eq(t, "status", r.Status, "rotation")
	eq(t, "ts_ms from send_time", r.TsMs, int64(1739985402716))
	r = one[*protocol.Room](t, decodeSample(t, "LIVE_2"))
	eq(t, "status", r.Status, "live")
	eq(t, "live_time", r.LiveTime, int64(1743685980))
	r = one[*protocol.Room](t, decodeSample(t, "ROOM_BLOCK_MSG_1"))
	eq(t, "blocked uid", r.UID, int64(37903025))
	r = one[*protocol.Room](t, decodeSample(t, "LOG_IN_NOTICE_1"))
	if !strings.Contains(r.Message, "未登录") {
		t.Errorf("message = %q", r.Message)
	}
}

func TestUnknownCommandKept(t *testing.T) {
	body := []byte(`{"cmd":"BRAND_NEW_THING","data":{"x":18446744073709551615}}`)
	o := one[*protocol.Other](t, decodeBody(t, body))
	eq(t, "cmd", o.Cmd, "BRAND_NEW_THING")
	eq(t, "decode_error", o.DecodeError, "")
	if !bytes.Equal(o.Raw, body) {
		t.Errorf("raw = %s", o.Raw)
	}
	out, _ := protocol.AppendJSON(nil, o)
	if !bytes.Contains(out, []byte("18446744073709551615")) {
		t.Errorf("canonical JSON lost the exact number: %s", out)
	}
}

func TestNotACommand(t *testing.T) {
	var cd protocol.CommandDecoder
	for _, body := range []string{`[1,2]`, `{"cmd":5}`, `{"cmd":"X"`, ``, `{}`} {
		_, err := cd.Decode(nil, []byte(body), 0)
		var ce *protocol.CommandError
		if !errors.As(err, &ce) || !errors.Is(err, protocol.ErrNotCommand) || string(ce.Body) != body {
			t.Errorf("%q: want *CommandError with the body, got %v", body, err)
		}
	}
}

func TestConnectionRoomWins(t *testing.T) {
	var cd protocol.CommandDecoder
	evs, _ := cd.Decode(nil, []byte(`{"cmd":"WARNING","msg":"m","roomid":5}`), 99)
	eq(t, "room_id", evs[0].Common().RoomID, int64(99))
}

// --- framing ---

func TestHeartbeatReplyEcho(t *testing.T) {
	msg := readHex(t, filepath.Join(samplesDir, "frames", "heartbeat_reply_1.hex"))
	if len(msg) != 35 {
		t.Fatalf("frame is %d bytes", len(msg))
	}
	var d protocol.Decoder
	var got []protocol.Packet
	err := d.DecodeMessage(msg, func(p *protocol.Packet) error {
		c := *p
		c.Body, c.Echo = bytes.Clone(p.Body), bytes.Clone(p.Echo)
		got = append(got, c)
		return nil
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("err %v, %d packets", err, len(got))
	}
	pop, ok := got[0].Popularity()
	eq(t, "popularity", pop, uint32(2466))
	eq(t, "ok", ok, true)
	eq(t, "length field", got[0].PacketLen, uint32(20))
	eq(t, "echo", string(got[0].Echo), "[object Object]")
}

func TestZlibFrame(t *testing.T) {
	msg := readHex(t, filepath.Join(samplesDir, "frames", "zlib_danmu_1.hex"))
	var fd protocol.FrameDecoder
	evs, errs := fd.DecodeMessage(nil, msg, 0)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	d := one[*protocol.Danmaku](t, evs)
	eq(t, "text", d.Text, "牛")
}

// bundle compresses packets into one op-5 packet of the given version.
func bundle(t testing.TB, ver uint16, inner []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	var w io.WriteCloser
	if ver == protocol.VerBrotli {
		w = brotli.NewWriter(&z)
	} else {
		w = zlib.NewWriter(&z)
	}
	if _, err := w.Write(inner); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return protocol.EncodePacket(ver, protocol.OpMessage, 0, z.Bytes())
}

func cmdPacket(body string) []byte {
	return protocol.EncodePacket(protocol.VerJSON, protocol.OpMessage, 0, []byte(body))
}

func TestBundles(t *testing.T) {
	var inner []byte
	for i := 0; i < 5; i++ {
		inner = append(inner, cmdPacket(fmt.Sprintf(`{"cmd":"WATCHED_CHANGE","data":{"num":%d}}`, i))...)
	}
	for _, ver := range []uint16{protocol.VerZlib, protocol.VerBrotli} {
		var fd protocol.FrameDecoder
		evs, errs := fd.DecodeMessage(nil, bundle(t, ver, inner), 7)
		if len(errs) != 0 || len(evs) != 5 {
			t.Fatalf("ver %d: %d events, %v", ver, len(evs), errs)
		}
		for i, e := range evs {
			eq(t, "order", e.(*protocol.Counter).Value, int64(i))
			eq(t, "room", e.Common().RoomID, int64(7))
		}
	}
	// A bundle inside a bundle (tolerated), next to a plain packet.
	nested := bundle(t, protocol.VerBrotli, append(bundle(t, protocol.VerZlib, inner), cmdPacket(`{"cmd":"X"}`)...))
	var fd protocol.FrameDecoder
	evs, errs := fd.DecodeMessage(nil, nested, 0)
	if len(errs) != 0 || len(evs) != 6 {
		t.Fatalf("nested: %d events, %v", len(evs), errs)
	}
}

func TestHeaderLengthHonoured(t *testing.T) {
	body := []byte(`{"cmd":"WARNING","msg":"m"}`)
	p := protocol.EncodePacket(protocol.VerJSON, protocol.OpMessage, 0, append([]byte("\x00\x00\x00\x00"), body...))
	p[5] = 20 // header length 20: four extra header bytes
	var fd protocol.FrameDecoder
	evs, errs := fd.DecodeMessage(nil, p, 0)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	one[*protocol.Room](t, evs)
}

func TestUnknownOpKept(t *testing.T) {
	var fd protocol.FrameDecoder
	evs, errs := fd.DecodeMessage(nil, protocol.EncodePacket(1, 24, 1, []byte(`{"ack":1}`)), 0)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	c := one[*protocol.Control](t, evs)
	eq(t, "cmd", c.Cmd, "OP_24")
	eq(t, "body", c.Body, `{"ack":1}`)
}

func TestAuthKeyNeverPrinted(t *testing.T) {
	msg := readHex(t, filepath.Join(samplesDir, "frames", "auth_1.hex"))
	var fd protocol.FrameDecoder
	evs, _ := fd.DecodeMessage(nil, msg, 0)
	out, _ := protocol.AppendJSON(nil, one[*protocol.Control](t, evs))
	if bytes.Contains(out, []byte("0vpTHW7wWUnloRpRQkGvNbnwvsdm")) || bytes.Contains(out, []byte(`"key"`)) {
		t.Errorf("token printed: %s", out)
	}
}

func TestFramingErrors(t *testing.T) {
	good := cmdPacket(`{"cmd":"X"}`)
	bomb := func() []byte {
		var z bytes.Buffer
		w := brotli.NewWriterLevel(&z, 1)
		zero := make([]byte, 1<<20)
		for i := 0; i < 20; i++ { // 20 MiB of zeros, a few KiB compressed
			w.Write(zero)
		}
		w.Close()
		return protocol.EncodePacket(protocol.VerBrotli, protocol.OpMessage, 0, z.Bytes())
	}()
	deep := cmdPacket(`{"cmd":"X"}`)
	for i := 0; i < protocol.MaxNesting; i++ {
		deep = bundle(t, protocol.VerZlib, deep)
	}
	corrupt := bundle(t, protocol.VerZlib, good)
	corrupt[len(corrupt)-3] ^= 0xff
	cases := []struct {
		name   string
		msg    []byte
		reason error
		before int // events decoded before the error
	}{
		{"short", good[:10], protocol.ErrShortPacket, 0},
		{"length below header", append([]byte{0, 0, 0, 8, 0, 16, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}, good...), protocol.ErrShortPacket, 0},
		{"too large", []byte{0x7f, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}, protocol.ErrPacketTooLarge, 0},
		{"truncated", append(bytes.Clone(good), good[:20]...), protocol.ErrTruncated, 1},
		{"header length", []byte{0, 0, 0, 16, 0, 17, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}, protocol.ErrBadHeaderLen, 0},
		{"bomb", bomb, protocol.ErrInflateTooLarge, 0},
		{"corrupt zlib", corrupt, protocol.ErrBadCompression, 0},
		{"garbage brotli", protocol.EncodePacket(protocol.VerBrotli, protocol.OpMessage, 0, []byte("not brotli at all")), protocol.ErrBadCompression, 0},
		{"nested too deep", deep, protocol.ErrNestingTooDeep, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fd protocol.FrameDecoder
			evs, errs := fd.DecodeMessage(nil, c.msg, 0)
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %v", errs)
			}
			var fe *protocol.FrameError
			if !errors.As(errs[0], &fe) || !errors.Is(errs[0], c.reason) || fe.Reason != c.reason {
				t.Fatalf("want *FrameError with reason %v, got %v", c.reason, errs[0])
			}
			eq(t, "events before the error", len(evs), c.before)
		})
	}
	// The decoder recovers: the next message decodes.
	var fd protocol.FrameDecoder
	fd.DecodeMessage(nil, bomb, 0)
	fd.DecodeMessage(nil, corrupt, 0)
	evs, errs := fd.DecodeMessage(nil, bundle(t, protocol.VerZlib, good), 0)
	if len(errs) != 0 || len(evs) != 1 {
		t.Fatalf("after errors: %d events, %v", len(evs), errs)
	}
}

// stream returns a byte stream of every captured frame, a brotli bundle
// and a heartbeat reply with its echo in the middle.
func stream(t *testing.T) []byte {
	var s []byte
	files, _ := filepath.Glob(filepath.Join(samplesDir, "frames", "*.hex"))
	for _, f := range files {
		s = append(s, readHex(t, f)...)
	}
	s = append(s, bundle(t, protocol.VerBrotli, append(cmdPacket(`{"cmd":"A"}`), cmdPacket(`{"cmd":"B"}`)...))...)
	s = append(s, readHex(t, filepath.Join(samplesDir, "frames", "heartbeat_reply_2.hex"))...)
	s = append(s, cmdPacket(`{"cmd":"C"}`)...)
	return s
}

func decodeStream(t *testing.T, r io.Reader) []byte {
	t.Helper()
	sr := protocol.NewStreamReader(r)
	var fd protocol.FrameDecoder
	var out []byte
	for {
		msg, _, err := sr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		evs, errs := fd.DecodeMessage(nil, msg, 0)
		if len(errs) != 0 {
			t.Fatalf("decode: %v", errs)
		}
		out = append(out, eventsJSONL(t, evs)...)
	}
}

// TestStreamOddSplits feeds the same bytes in odd splits: one byte at a
// time, halves, and data-with-EOF reads must give identical events.
func TestStreamOddSplits(t *testing.T) {
	s := stream(t)
	want := decodeStream(t, bytes.NewReader(s))
	if n := bytes.Count(want, []byte("\n")); n != 12 {
		t.Fatalf("whole stream: %d events, want 12:\n%s", n, want)
	}
	if !bytes.Contains(want, []byte(`"cmd":"C"`)) {
		t.Fatal("the packet after the heartbeat echo was lost")
	}
	for name, r := range map[string]io.Reader{
		"one byte":  iotest.OneByteReader(bytes.NewReader(s)),
		"half":      iotest.HalfReader(bytes.NewReader(s)),
		"data+EOF":  iotest.DataErrReader(bytes.NewReader(s)),
		"7-byte":    &chunkReader{b: s, n: 7},
		"4093-byte": &chunkReader{b: s, n: 4093},
	} {
		if got := decodeStream(t, r); !bytes.Equal(got, want) {
			t.Errorf("%s split: events differ\n got: %s\nwant: %s", name, got, want)
		}
	}
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

func TestStreamTruncated(t *testing.T) {
	s := stream(t)
	sr := protocol.NewStreamReader(bytes.NewReader(s[:len(s)-3]))
	var last error
	for {
		_, _, err := sr.Next()
		if err != nil {
			last = err
			break
		}
	}
	if !errors.Is(last, protocol.ErrTruncated) {
		t.Fatalf("want ErrTruncated at the cut, got %v", last)
	}
}

func TestVer1CommandDecodes(t *testing.T) {
	var fd protocol.FrameDecoder
	evs, errs := fd.DecodeMessage(nil, protocol.EncodePacket(protocol.VerInt, protocol.OpMessage, 0, []byte(`{"cmd":"WATCHED_CHANGE","data":{"num":7}}`)), 0)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	eq(t, "watched", one[*protocol.Counter](t, evs).Value, int64(7))
}

func TestSuperChatNameFromUinfo(t *testing.T) {
	sc := one[*protocol.SuperChat](t, decodeBody(t, []byte(`{"cmd":"SUPER_CHAT_MESSAGE","data":{"id":1,"uid":2,"price":30,"message":"m","uinfo":{"base":{"name":"神秘人"}}}}`)))
	eq(t, "uname", sc.Uname, "神秘人")
}

// bothPaths decodes body with the DANMU_MSG fast path on and off and
// requires the same events.
func bothPaths(t *testing.T, body []byte) []protocol.Event {
	t.Helper()
	var fast, slow protocol.CommandDecoder
	slow.SetSlowOnly(true)
	a, err := fast.Decode(nil, body, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := slow.Decode(nil, body, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("event counts differ: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("paths differ:\nfast:    %+v\ngeneral: %+v", a[i], b[i])
		}
	}
	return a
}

func TestAckFields(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		id, raw    string
		ack        bool
		pType      int64
	}{
		{"danmaku string id", danmakuWith(`"msg_id":"30000000000000004:1000:1000","p_is_ack":true,"p_msg_type":1`),
			"30000000000000004:1000:1000", `"30000000000000004:1000:1000"`, true, 1},
		{"danmaku numeric id above 2^64", danmakuWith(`"msg_id":123456789012345678901234,"p_msg_type":2`),
			"123456789012345678901234", `123456789012345678901234`, false, 2},
		{"danmaku escaped id", danmakuWith(`"msg_id":"a\u0062c","p_is_ack":false`), "abc", `"abc"`, false, 0},
		{"danmaku duplicate keys: first wins", danmakuWith(`"msg_id":"x","p_is_ack":true,"msg_id":"y","p_is_ack":false,"p_msg_type":1,"p_msg_type":3`),
			"x", `"x"`, true, 1},
		{"danmaku null id", danmakuWith(`"msg_id":null,"p_is_ack":1`), "", "", false, 0},
		{"danmaku absent", danmakuWith(`"dm_v2":""`), "", "", false, 0},
		{"other command", `{"cmd":"ONLINE_RANK_COUNT","data":{"count":1},"msg_id":"7:1000:1000","p_is_ack":true,"p_msg_type":1}`,
			"7:1000:1000", `"7:1000:1000"`, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := bothPaths(t, []byte(tc.body))
			for _, e := range evs {
				b := e.Common()
				eq(t, "msg_id", b.MsgID, tc.id)
				eq(t, "msg_id raw", string(b.MsgIDRaw), tc.raw)
				eq(t, "p_is_ack", b.PIsAck, tc.ack)
				eq(t, "p_msg_type", b.PMsgType, tc.pType)
			}
		})
	}
	// Samples without the keys gain nothing in the canonical form.
	j, _ := protocol.AppendJSON(nil, one[*protocol.Danmaku](t, decodeSample(t, "DANMU_MSG_1")))
	if bytes.Contains(j, []byte(`"msg_id"`)) || bytes.Contains(j, []byte(`"p_is_ack"`)) || bytes.Contains(j, []byte(`"p_msg_type"`)) {
		t.Errorf("ack keys in an event without them: %s", j)
	}
}

// danmakuWith is a small DANMU_MSG whose top level also has extra.
func danmakuWith(extra string) string {
	return `{"cmd":"DANMU_MSG",` + extra + `,"info":[[0,1,25,16777215,1788000500123,1,0,"8c1850a6",0,0,0,"",0,"{}","{}",{"extra":"{\"id_str\":\"abc\"}","user":{"uid":1,"base":{"name":"n"}}}],"t",[1,"n",0,0,0,10000,1,""],[],[1],["",""],0,0,null,{"ts":1,"ct":"A"},0,0,null,null,0,7,[3],null]}`
}

func TestGuardToastV2(t *testing.T) {
	g := one[*protocol.Guard](t, decodeSample(t, "USER_TOAST_MSG_V2_101"))
	eq(t, "uid", g.UID, int64(20001))
	eq(t, "uname", g.Uname, "合成舰长")
	eq(t, "guard_level", g.GuardLevel, int64(3))
	eq(t, "role_name", g.RoleName, "舰长")
	eq(t, "price paid", g.Price, int64(168000))
	eq(t, "num", g.Num, int64(1))
	eq(t, "unit", g.Unit, "月")
	eq(t, "payflow_id", g.PayflowID, "2609010000000000000000001")
	eq(t, "start_time", g.StartTime, int64(1788000000))
	eq(t, "source", g.Source, int64(0))
	eq(t, "toast_msg", g.ToastMsg, "<%合成舰长%> 在主播X的直播间开通了舰长，今天是TA陪伴主播的第1天")
	eq(t, "msg_id", g.MsgID, "30000000000000001:1000:1000")
	g = one[*protocol.Guard](t, decodeSample(t, "USER_TOAST_MSG_3"))
	eq(t, "v1 toast_msg", g.ToastMsg, "<%路人Kamito%> 在主播Mia米娅-的直播间续费了舰长，今天是TA陪伴主播的第1021天")
	g = one[*protocol.Guard](t, decodeSample(t, "GUARD_BUY_1"))
	eq(t, "GUARD_BUY has no toast", g.ToastMsg, "")
	eq(t, "GUARD_BUY list price", g.Price, int64(198000))
}

func TestGiftBagAndBlindBox(t *testing.T) {
	g := one[*protocol.Gift](t, decodeSample(t, "SEND_GIFT_101"))
	eq(t, "bag_gift", g.BagGift, true)
	eq(t, "bag gift total_coin is the full price", g.TotalCoin, int64(1000))
	eq(t, "prize_value of a plain gift", g.PrizeValue, int64(0))

	g = one[*protocol.Gift](t, decodeSample(t, "SEND_GIFT_102"))
	eq(t, "bag_gift null", g.BagGift, false)
	eq(t, "total_coin = boxes paid", g.TotalCoin, int64(30000))
	eq(t, "blind_price = box unit price", g.BlindPrice, int64(15000))
	eq(t, "price = prize unit price", g.Price, int64(16000))
	eq(t, "prize_value = combo_total_coin", g.PrizeValue, int64(32000))
	eq(t, "gift_name = the prize", g.GiftName, "浪漫城堡")

	g = one[*protocol.Gift](t, decodeSample(t, "SEND_GIFT_6"))
	eq(t, "captured blind box prize_value", g.PrizeValue, int64(9000))
	g = one[*protocol.Gift](t, decodeSample(t, "SEND_GIFT_1"))
	eq(t, "bag_gift absent", g.BagGift, false)
	eq(t, "no blind box", g.PrizeValue, int64(0))

	// A blind box without combo_total_coin: price × num.
	g = one[*protocol.Gift](t, decodeBody(t, []byte(`{"cmd":"SEND_GIFT","data":{"giftName":"p","num":3,"price":500,"total_coin":3000,"blind_gift":{"original_gift_name":"b","original_gift_price":1000}}}`)))
	eq(t, "prize_value fallback", g.PrizeValue, int64(1500))
}

func TestRedPocket(t *testing.T) {
	r := one[*protocol.RedPocket](t, decodeSample(t, "POPULARITY_RED_POCKET_START_101"))
	eq(t, "kind", r.Kind, protocol.KindRedPocket)
	eq(t, "lot_id", r.LotID, int64(9000001))
	eq(t, "uid", r.UID, int64(30001))
	eq(t, "uname", r.Uname, "合成红包人")
	eq(t, "price", r.Price, int64(1600))
	eq(t, "start_time", r.StartTime, int64(1788000100))
	eq(t, "end_time", r.EndTime, int64(1788000280))
	eq(t, "ts_ms from start_time", r.TsMs, int64(1788000100000))
	if !json.Valid(r.Raw) || !bytes.Contains(r.Raw, []byte(`"awards"`)) {
		t.Errorf("raw = %s", r.Raw)
	}
	r = one[*protocol.RedPocket](t, decodeSample(t, "POPULARITY_RED_POCKET_V2_START_101"))
	eq(t, "v2 cmd", r.Cmd, "POPULARITY_RED_POCKET_V2_START")
	eq(t, "v2 uid from a string", r.UID, int64(30002))
	eq(t, "v2 uname from sender_uinfo", r.Uname, "合成红包人V2")
	eq(t, "v2 price", r.Price, int64(5200))
	eq(t, "v2 ts_ms from send_time", r.TsMs, int64(1788000200456))
	eq(t, "v2 msg_id", r.MsgID, "30000000000000002:1000:1000")
	o := one[*protocol.Other](t, decodeBody(t, []byte(`{"cmd":"POPULARITY_RED_POCKET_START","data":[]}`)))
	if o.DecodeError == "" {
		t.Error("a red pocket without a data object decoded silently")
	}
}

// TestSendGiftV2Variants: NovaBot's field map (§10.5) and the gift_info
// block (field 35) decode without failing; uinfo (15) fills a missing
// sender.
func TestSendGiftV2Variants(t *testing.T) {
	var it []byte
	it = protowire.AppendTag(it, 1, protowire.VarintType)
	it = protowire.AppendVarint(it, 31036)
	it = protowire.AppendTag(it, 2, protowire.BytesType)
	it = protowire.AppendString(it, "小花花")
	it = protowire.AppendTag(it, 3, protowire.VarintType)
	it = protowire.AppendVarint(it, 4)
	it = protowire.AppendTag(it, 5, protowire.VarintType)
	it = protowire.AppendVarint(it, 100)
	it = protowire.AppendTag(it, 6, protowire.VarintType) // NovaBot: discounted price?
	it = protowire.AppendVarint(it, 90)
	it = protowire.AppendTag(it, 7, protowire.VarintType)
	it = protowire.AppendVarint(it, 400)
	it = protowire.AppendTag(it, 10, protowire.VarintType)
	it = protowire.AppendVarint(it, 1788000600)
	it = protowire.AppendTag(it, 12, protowire.BytesType) // NovaBot: combo batch id
	it = protowire.AppendString(it, "batch:gift:combo_id:1:2:31036:1788000600.1")
	var gi []byte
	gi = protowire.AppendTag(gi, 1, protowire.BytesType)
	gi = protowire.AppendString(gi, "https://example.invalid/img.png")
	it = protowire.AppendTag(it, 35, protowire.BytesType)
	it = protowire.AppendBytes(it, gi)

	var base, ui, wealth, m []byte
	base = protowire.AppendTag(base, 1, protowire.BytesType)
	base = protowire.AppendString(base, "uinfo名")
	ui = protowire.AppendTag(ui, 1, protowire.VarintType)
	ui = protowire.AppendVarint(ui, 777)
	ui = protowire.AppendTag(ui, 2, protowire.BytesType)
	ui = protowire.AppendBytes(ui, base)
	wealth = protowire.AppendTag(wealth, 1, protowire.VarintType)
	wealth = protowire.AppendVarint(wealth, 20)
	m = protowire.AppendTag(m, 10, protowire.BytesType)
	m = protowire.AppendBytes(m, it)
	m = protowire.AppendTag(m, 13, protowire.BytesType)
	m = protowire.AppendBytes(m, wealth)
	m = protowire.AppendTag(m, 15, protowire.BytesType)
	m = protowire.AppendBytes(m, ui)
	body := []byte(`{"cmd":"SEND_GIFT_V2","data":{"data":{"pb":"` + base64.StdEncoding.EncodeToString(m) + `"}}}`)
	g := one[*protocol.Gift](t, decodeBody(t, body))
	eq(t, "uid from uinfo", g.UID, int64(777))
	eq(t, "uname from uinfo", g.Uname, "uinfo名")
	eq(t, "gift", g.GiftName, "小花花")
	eq(t, "num", g.Num, int64(4))
	eq(t, "price", g.Price, int64(100))
	eq(t, "total_coin", g.TotalCoin, int64(400))
	eq(t, "ts_ms", g.TsMs, int64(1788000600000))
	eq(t, "not a blind box", g.PrizeValue, int64(0))

	// The blivedm-shaped blind box: prize value = price × num per item.
	evs := decodeBody(t, sendGiftV2(t))
	eq(t, "v2 blind prize_value", evs[1].(*protocol.Gift).PrizeValue, int64(19800))
	eq(t, "v2 blind_price", evs[1].(*protocol.Gift).BlindPrice, int64(15000))
}
