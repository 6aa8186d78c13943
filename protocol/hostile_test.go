package protocol_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danmakud/danmakud/protocol"
	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/encoding/protowire"
)

// header returns a 16-byte packet header with the given lengths (ver 0,
// op 5).
func header(packetLen uint32, headerLen uint16) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint32(h[0:], packetLen)
	binary.BigEndian.PutUint16(h[4:], headerLen)
	binary.BigEndian.PutUint32(h[8:], protocol.OpMessage)
	return h
}

// TestHostileFrames: hostile packet headers and bodies, by name: each is
// one *FrameError with the named reason, and the decoder goes on with the
// next message.
func TestHostileFrames(t *testing.T) {
	zbomb := func() []byte { // 32 MiB of zeros, ~32 KiB compressed
		var z bytes.Buffer
		w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zero := make([]byte, 1<<20)
		for range 32 {
			w.Write(zero)
		}
		w.Close()
		return protocol.EncodePacket(protocol.VerZlib, protocol.OpMessage, 0, z.Bytes())
	}()
	for _, c := range []struct {
		name   string
		msg    []byte
		reason error
	}{
		{"length 0", header(0, 16), protocol.ErrShortPacket},
		{"length 15", header(15, 16), protocol.ErrShortPacket},
		{"length 2^32-1", header(1<<32-1, 16), protocol.ErrPacketTooLarge},
		{"header length > packet length", append(header(20, 24), 1, 2, 3, 4), protocol.ErrBadHeaderLen},
		{"header length 0", append(header(20, 0), 1, 2, 3, 4), protocol.ErrBadHeaderLen},
		{"length past the message", append(header(1000, 16), 1, 2, 3), protocol.ErrTruncated},
		{"zlib bomb", zbomb, protocol.ErrInflateTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fd protocol.FrameDecoder
			evs, errs := fd.DecodeMessage(nil, c.msg, 0)
			var fe *protocol.FrameError
			if len(errs) != 1 || !errors.As(errs[0], &fe) || !errors.Is(errs[0], c.reason) {
				t.Fatalf("errors %v, want one *FrameError %v", errs, c.reason)
			}
			if len(evs) != 0 {
				t.Errorf("%d events from a hostile frame", len(evs))
			}
			evs, errs = fd.DecodeMessage(nil, cmdPacket(`{"cmd":"NEXT"}`), 0)
			if len(errs) != 0 || len(evs) != 1 {
				t.Errorf("the next message: %d events, %v", len(evs), errs)
			}
		})
	}
}

// outcome is what one command body must decode to.
type outcome struct {
	kind   protocol.Kind // the one event's kind; "" for a *CommandError
	errMsg string        // KindOther: decode_error exactly; "": a CommandError's detail contains it
	check  func(t *testing.T, e protocol.Event)
}

// other is the outcome "kept as KindOther with this decode_error".
func other(msg string) outcome { return outcome{kind: protocol.KindOther, errMsg: msg} }

// decodeBoth decodes body with the fast path on and off, requires both to
// give the same events (as JSON) and the same error, and returns them.
func decodeBoth(t *testing.T, body []byte) ([]protocol.Event, error) {
	t.Helper()
	var fast, slow protocol.CommandDecoder
	slow.SetSlowOnly(true)
	a, aerr := fast.Decode(nil, body, 0)
	b, berr := slow.Decode(nil, body, 0)
	if (aerr == nil) != (berr == nil) || aerr != nil && aerr.Error() != berr.Error() {
		t.Fatalf("paths disagree: fast %v, general %v", aerr, berr)
	}
	if len(a) != len(b) {
		t.Fatalf("paths disagree: %d events fast, %d general", len(a), len(b))
	}
	for i := range a {
		ja, _ := protocol.AppendJSON(nil, a[i])
		jb, _ := protocol.AppendJSON(nil, b[i])
		if !bytes.Equal(ja, jb) {
			t.Fatalf("paths disagree\nfast:    %.300s\ngeneral: %.300s", ja, jb)
		}
	}
	return a, aerr
}

// checkOutcome decodes body through both paths and checks it against want.
func checkOutcome(t *testing.T, body []byte, want outcome) {
	t.Helper()
	evs, err := decodeBoth(t, body)
	for _, e := range evs {
		j, jerr := protocol.AppendJSON(nil, e)
		if jerr != nil || !utf8.Valid(j) {
			t.Errorf("event JSON: %v, valid UTF-8 %v", jerr, utf8.Valid(j))
		}
	}
	if want.kind == "" {
		var ce *protocol.CommandError
		if !errors.As(err, &ce) || !errors.Is(err, protocol.ErrNotCommand) || !strings.Contains(ce.Detail, want.errMsg) || len(evs) != 0 {
			t.Fatalf("want a *CommandError (%q) and no events, got %d events, %v", want.errMsg, len(evs), err)
		}
		if !bytes.Equal(ce.Body, body) {
			t.Errorf("the CommandError does not carry the body")
		}
		return
	}
	if err != nil || len(evs) != 1 {
		t.Fatalf("want one %s event, got %d, %v", want.kind, len(evs), err)
	}
	e := evs[0]
	if k := e.Common().Kind; k != want.kind {
		j, _ := protocol.AppendJSON(nil, e)
		t.Fatalf("kind %s, want %s: %.300s", k, want.kind, j)
	}
	if o, ok := e.(*protocol.Other); ok {
		if o.DecodeError != want.errMsg {
			t.Errorf("decode_error %q, want %q", o.DecodeError, want.errMsg)
		}
		if len(o.Raw) == 0 {
			t.Errorf("no raw object")
		}
	}
	if want.check != nil {
		want.check(t, e)
	}
}

// TestHostileCommands: hostile command bodies, by name, each with its
// outcome; the DANMU_MSG fast path and the general decoder must agree on
// every one. A number that does not fit an int64 field keeps the command
// as "other" with a decode_error naming the field and its text; a body
// the parser cannot take (nested past fastjson's 300 levels) is a
// *CommandError whatever its cmd, never an empty danmaku.
func TestHostileCommands(t *testing.T) {
	deep := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	var wrongTypes []byte // INTERACT_WORD_V2: uid as bytes, uname as a varint, room as fixed64
	wrongTypes = protowire.AppendTag(wrongTypes, 1, protowire.BytesType)
	wrongTypes = protowire.AppendString(wrongTypes, "not a number")
	wrongTypes = protowire.AppendTag(wrongTypes, 2, protowire.VarintType)
	wrongTypes = protowire.AppendVarint(wrongTypes, 7)
	wrongTypes = protowire.AppendTag(wrongTypes, 6, protowire.Fixed64Type)
	wrongTypes = protowire.AppendFixed64(wrongTypes, 1<<63)
	var gift []byte // SEND_GIFT_V2: gift_list (10) as a varint, medal (8) as fixed32
	gift = protowire.AppendTag(gift, 10, protowire.VarintType)
	gift = protowire.AppendVarint(gift, 99)
	gift = protowire.AppendTag(gift, 8, protowire.Fixed32Type)
	gift = protowire.AppendFixed32(gift, 5)
	gift = protowire.AppendTag(gift, 1, protowire.VarintType)
	gift = protowire.AppendVarint(gift, 1<<64-1)
	var item []byte // one well-formed gift_list item
	item = protowire.AppendTag(item, 1, protowire.VarintType)
	item = protowire.AppendVarint(item, 31036)
	item = protowire.AppendTag(item, 3, protowire.VarintType)
	item = protowire.AppendVarint(item, 1)
	var bigUID []byte // SEND_GIFT_V2 whose uid is uint64 1<<64-1 (-1 as int64)
	bigUID = protowire.AppendTag(bigUID, 1, protowire.VarintType)
	bigUID = protowire.AppendVarint(bigUID, 1<<64-1)
	bigUID = protowire.AppendTag(bigUID, 10, protowire.BytesType)
	bigUID = protowire.AppendBytes(bigUID, item)
	var textPrice []byte // INTERACT_WORD_V2 whose uid is decimal text past int64
	textPrice = protowire.AppendTag(textPrice, 1, protowire.BytesType)
	textPrice = protowire.AppendString(textPrice, "99999999999999999999")
	sendGift := func(fields string) string {
		return `{"cmd":"SEND_GIFT","data":{"giftName":"g","uname":"u",` + fields + `}}`
	}
	dm := danmakuWith(`"x":1`)
	for _, c := range []struct {
		name string
		body string
		want outcome
	}{
		{"plain danmaku", dm, outcome{kind: protocol.KindDanmaku, check: func(t *testing.T, e protocol.Event) {
			eq(t, "text", e.(*protocol.Danmaku).Text, "t")
		}}},
		{"invalid UTF-8 in text", strings.Replace(dm, `"t"`, "\"\xff\xfe\xc3(\"", 1), outcome{kind: protocol.KindDanmaku, check: func(t *testing.T, e protocol.Event) {
			eq(t, "text (bytes as received)", e.(*protocol.Danmaku).Text, "\xff\xfe\xc3(")
			if j, _ := protocol.AppendJSON(nil, e); !bytes.Contains(j, []byte(`"text":"\ufffd\ufffd\ufffd("`)) {
				t.Errorf("JSON text not replaced by U+FFFD: %.300s", j)
			}
		}}},
		{"JSON nested 10^6 deep", `{"cmd":"DANMU_MSG","info":` + deep + `}`, outcome{errMsg: "too big depth"}},
		{"JSON nested 10^6 deep in info[0]", `{"cmd":"DANMU_MSG","info":[` + deep + `,"t"]}`, outcome{errMsg: "too big depth"}},
		{"JSON nested 10^6 deep, unknown cmd", `{"cmd":"X","data":` + deep + `}`, outcome{errMsg: "too big depth"}},
		{"JSON nested 100 deep in an unused slot", strings.Replace(dm, `[0,1,25`, `[`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`,1,25`, 1),
			outcome{kind: protocol.KindDanmaku, check: func(t *testing.T, e protocol.Event) {
				eq(t, "font_size", e.(*protocol.Danmaku).FontSize, int64(25))
			}}},
		{"DANMU_MSG info not an array", `{"cmd":"DANMU_MSG","info":{"0":[]}}`, other("DANMU_MSG: info is not an array")},
		{"DANMU_MSG info empty", `{"cmd":"DANMU_MSG","info":[]}`, other("DANMU_MSG: info[0] is not an array")},
		{"DANMU_MSG info[0] not an array", `{"cmd":"DANMU_MSG","info":["x","t"]}`, other("DANMU_MSG: info[0] is not an array")},
		{"DANMU_MSG text missing", `{"cmd":"DANMU_MSG","info":[[0,1,25]]}`, other("DANMU_MSG: info[1] (text) is not a string")},
		{"DANMU_MSG text a number", `{"cmd":"DANMU_MSG","info":[[0,1,25],12]}`, other("DANMU_MSG: info[1] (text) is not a string")},
		{"DANMU_MSG text an array", strings.Replace(dm, `"t"`, `["t"]`, 1), other("DANMU_MSG: info[1] (text) is not a string")},
		{"DANMU_MSG text null", strings.Replace(dm, `"t"`, `null`, 1), other("DANMU_MSG: info[1] (text) is not a string")},
		{"bare word in a skipped slot", strings.Replace(dm, `[1],["",""]`, `[1],[abc]`, 1), outcome{errMsg: "cannot parse"}},
		{"trailing NUL", dm + "\x00", outcome{errMsg: "unexpected tail"}},
		{"numbers > 2^64", sendGift(`"uid":184467440737095516160,"num":1e400,"price":-99999999999999999999999,"timestamp":1`),
			other("SEND_GIFT: data.uid: 184467440737095516160 out of int64 range")},
		{"number 1e400", sendGift(`"uid":1,"num":1e400`), other("SEND_GIFT: data.num: 1e400 out of int64 range")},
		{"number < -2^63", sendGift(`"uid":1,"giftType":-99999999999999999999999`), other("SEND_GIFT: data.giftType: -99999999999999999999999 out of int64 range")},
		{"fraction", sendGift(`"uid":1,"num":1.5`), other("SEND_GIFT: data.num: 1.5 not an integer")},
		{"fraction that float64 rounds to an integer", sendGift(`"uid":1,"num":1.00000000000000001`), other("SEND_GIFT: data.num: 1.00000000000000001 not an integer")},
		{"negative price", sendGift(`"uid":1,"num":1,"price":-5`), other("SEND_GIFT: data.price: -5 negative")},
		{"numeric string past int64", sendGift(`"uid":"99999999999999999999"`), other(`SEND_GIFT: data.uid: "99999999999999999999" out of int64 range`)},
		{"seconds × 1000 past int64", sendGift(`"uid":1,"timestamp":100000000000000000`), other("SEND_GIFT: data.timestamp: 100000000000000000 × 1000 out of int64 range")},
		{"integral exponent and fraction are exact", sendGift(`"uid":9007199254740993,"num":1e3,"price":2.0,"total_coin":"2000"`), outcome{kind: protocol.KindGift, check: func(t *testing.T, e protocol.Event) {
			g := e.(*protocol.Gift)
			eq(t, "uid", g.UID, int64(9007199254740993))
			eq(t, "num", g.Num, int64(1000))
			eq(t, "price", g.Price, int64(2))
			eq(t, "total_coin", g.TotalCoin, int64(2000))
		}}},
		{"int64 extremes", `{"cmd":"DANMU_MSG","info":[[0,1,25,-9223372036854775808,1,9223372036854775807],"t"]}`, outcome{kind: protocol.KindDanmaku, check: func(t *testing.T, e protocol.Event) {
			d := e.(*protocol.Danmaku)
			eq(t, "color", d.Color, int64(math.MinInt64))
			eq(t, "rnd", d.Rnd, int64(math.MaxInt64))
		}}},
		{"numbers > 2^64 in DANMU_MSG", strings.Replace(dm, `[0,1,25`, `[0,1,99999999999999999999999999`, 1),
			other("DANMU_MSG: info[0][2]: 99999999999999999999999999 out of int64 range")},
		{"fraction in DANMU_MSG uid", strings.Replace(dm, `[1,"n",0`, `[1.5,"n",0`, 1), other("DANMU_MSG: info[2][0]: 1.5 not an integer")},
		{"2^63 in DANMU_MSG extra", strings.Replace(dm, `{\"id_str\":\"abc\"}`, `{\"id_str\":\"abc\",\"reply_mid\":9223372036854775808}`, 1),
			other("DANMU_MSG: info[0][15].extra.reply_mid: 9223372036854775808 out of int64 range")},
		{"2^64 as send_time", danmakuWith(`"send_time":18446744073709551616`), other("DANMU_MSG: send_time: 18446744073709551616 out of int64 range")},
		{"protobuf with wrong wire types", string(pbCommand("INTERACT_WORD_V2", wrongTypes)),
			other("INTERACT_WORD_V2: data.pb.roomid: 9223372036854775808 out of int64 range")},
		{"protobuf uid as decimal text past int64", string(pbCommand("INTERACT_WORD_V2", textPrice)),
			other(`INTERACT_WORD_V2: data.pb.uid: "99999999999999999999" out of int64 range`)},
		{"protobuf with wrong wire types, gift", string(pbCommand("SEND_GIFT_V2", gift)), other("SEND_GIFT_V2: empty gift_list")},
		{"protobuf uid 2^64-1", string(pbCommand("SEND_GIFT_V2", bigUID)), other("SEND_GIFT_V2: data.pb.uid: 18446744073709551615 out of int64 range")},
		{"protobuf not base64", `{"cmd":"INTERACT_WORD_V2","data":{"pb":"%%%"}}`, other("INTERACT_WORD_V2: pb: illegal base64 data at input byte 0")},
	} {
		t.Run(c.name, func(t *testing.T) { checkOutcome(t, []byte(c.body), c.want) })
	}
}

// TestFastSlowAgree: DANMU_MSG bodies with odd JSON in slots the fast path
// skips (info[5], a top-level key) or reads: the fast path and the general
// decoder give the same result for each, valid or not, and a body the
// general parser rejects is never a danmaku.
func TestFastSlowAgree(t *testing.T) {
	slots := []string{
		`[1 2]`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a":1,}`, `{a:1}`, `{"a":1 "b":2}`, `[tru]`, `[truex]`, `[nan]`, `[-inf]`,
		`["\"]`, `[}`, `{]`, `[1]]`, `"unterminated`, "[\x00]", `[1e5,-0.5,"x\"y",true,false,null,{"k":[{}]}]`,
		` [ 1 , { "a" : [ ] } ] `, `[-]`, `[1.2.3]`, `[+1]`, `[01]`, `[e]`, `{}`, `[]`, `""`, `"\u00e9\ud800"`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
		strings.Repeat("[", 65) + strings.Repeat("]", 65),
		strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70),
		strings.Repeat("[", 299) + strings.Repeat("]", 299),
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
	}
	dm := danmakuWith(`"x":1`)
	for i, slot := range slots {
		for j, body := range []string{
			strings.Replace(dm, `["",""]`, slot, 1),       // info[5], skipped
			strings.Replace(dm, `"x":1`, `"x":`+slot, 1),  // a top-level key, skipped
			strings.Replace(dm, `[1],`, `[`+slot+`],`, 1), // info[4][0], read as a number
		} {
			t.Run(fmt.Sprintf("%d/%d", i, j), func(t *testing.T) {
				evs, err := decodeBoth(t, []byte(body))
				if err == nil && len(evs) == 1 && evs[0].Common().Kind == protocol.KindDanmaku && !fastjson.Exists([]byte(body), "cmd") {
					t.Errorf("a danmaku from a body the parser rejects: %.200q", body)
				}
			})
		}
	}
}

// TestHostileAuthReplyCode: an auth reply whose code is no int64 has no
// code; its body is kept as received.
func TestHostileAuthReplyCode(t *testing.T) {
	for _, c := range []struct {
		body string
		code *int64
	}{
		{`{"code":-101}`, ptr(int64(-101))},
		{`{"code":1e400}`, nil},
		{`{"code":18446744073709551615}`, nil},
		{`{"code":0.5}`, nil},
	} {
		var fd protocol.FrameDecoder
		evs, errs := fd.DecodeMessage(nil, protocol.EncodePacket(protocol.VerInt, protocol.OpAuthReply, 0, []byte(c.body)), 0)
		if len(errs) != 0 || len(evs) != 1 {
			t.Fatalf("%s: %d events, %v", c.body, len(evs), errs)
		}
		ctl := evs[0].(*protocol.Control)
		switch {
		case c.code == nil && (ctl.Code != nil || ctl.Body != c.body):
			t.Errorf("%s: code %v, body %q; want no code and the body", c.body, ctl.Code, ctl.Body)
		case c.code != nil && (ctl.Code == nil || *ctl.Code != *c.code):
			t.Errorf("%s: code %v, want %d", c.body, ctl.Code, *c.code)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestDecoderStateless: an empty info[0] is an array whatever the decoder
// parsed before (fastjson reuses values: an empty array's slice is nil in
// a fresh parser and not after a full one), on both paths.
func TestDecoderStateless(t *testing.T) {
	body := []byte(`{"cmd":"DANMU_MSG","info":[[],"t"]}`)
	for _, slow := range []bool{false, true} {
		var fresh, warm protocol.CommandDecoder
		fresh.SetSlowOnly(slow)
		warm.SetSlowOnly(slow)
		if _, err := warm.Decode(nil, []byte(danmakuWith(`"x":1`)), 0); err != nil {
			t.Fatal(err)
		}
		a, aerr := fresh.Decode(nil, body, 0)
		b, berr := warm.Decode(nil, body, 0)
		if aerr != nil || berr != nil || len(a) != 1 || len(b) != 1 {
			t.Fatalf("slow %v: %v %v, %d and %d events", slow, aerr, berr, len(a), len(b))
		}
		if a[0].Common().Kind != protocol.KindDanmaku || b[0].Common().Kind != protocol.KindDanmaku {
			ja, _ := protocol.AppendJSON(nil, a[0])
			jb, _ := protocol.AppendJSON(nil, b[0])
			t.Errorf("slow %v: fresh %s, warm %s; want a danmaku from both", slow, ja, jb)
		}
	}
}
