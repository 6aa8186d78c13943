package protocol_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danmakud/danmakud/protocol"
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

// TestHostileCommands: hostile command bodies, by name: no panic, either a
// *CommandError or events whose JSON is valid UTF-8. (What the decoder
// makes of them is logged; see the hostile notes for two findings: a
// positive number past int64 comes out as math.MinInt64, and DANMU_MSG
// whose info is deeply nested arrays passes the fast path as an empty
// danmaku.)
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
	for _, c := range []struct {
		name  string
		body  string
		check func(t *testing.T, evs []protocol.Event, err error)
	}{
		{"invalid UTF-8", danmakuWith(`"x":1`) + "", nil},
		{"invalid UTF-8 in text", strings.Replace(danmakuWith(`"x":1`), `"t"`, "\"\xff\xfe\xc3(\"", 1), nil},
		{"JSON nested 10^6 deep", `{"cmd":"DANMU_MSG","info":` + deep + `}`, nil},
		{"JSON nested 10^6 deep, unknown cmd", `{"cmd":"X","data":` + deep + `}`, nil},
		{"numbers > 2^64", `{"cmd":"SEND_GIFT","data":{"uid":184467440737095516160,"num":1e400,"price":-99999999999999999999999,"giftName":"g","uname":"u","timestamp":1}}`, nil},
		{"numbers > 2^64 in DANMU_MSG", strings.Replace(danmakuWith(`"x":1`), `[0,1,25`, `[0,1,99999999999999999999999999`, 1), nil},
		{"protobuf with wrong wire types", string(pbCommand("INTERACT_WORD_V2", wrongTypes)), nil},
		{"protobuf with wrong wire types, gift", string(pbCommand("SEND_GIFT_V2", gift)), nil},
		{"protobuf not base64", `{"cmd":"INTERACT_WORD_V2","data":{"pb":"%%%"}}`, func(t *testing.T, evs []protocol.Event, err error) {
			// Kept, never dropped: an "other" event saying why.
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			if j, _ := protocol.AppendJSON(nil, evs[0]); !bytes.Contains(j, []byte(`"decode_error":"INTERACT_WORD_V2: pb: illegal base64`)) {
				t.Errorf("not kept with its decode error: %s", j)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cd protocol.CommandDecoder
			evs, err := cd.Decode(nil, []byte(c.body), 0)
			if err != nil {
				var ce *protocol.CommandError
				if !errors.As(err, &ce) {
					t.Fatalf("unnamed error type %T: %v", err, err)
				}
			}
			for _, e := range evs {
				j, jerr := protocol.AppendJSON(nil, e)
				if jerr != nil || !utf8.Valid(j) {
					t.Errorf("event JSON: %v, valid UTF-8 %v", jerr, utf8.Valid(j))
				}
			}
			if c.check != nil {
				c.check(t, evs, err)
			}
			if len(evs) > 0 {
				j, _ := protocol.AppendJSON(nil, evs[0])
				t.Logf("%d events, err %v: %.200s", len(evs), err, j)
			} else {
				t.Logf("no events, err %.200v", err)
			}
		})
	}
}
