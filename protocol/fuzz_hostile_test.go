package protocol_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/danmakud/danmakud/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// FuzzBundle: any bytes as the body of a zlib (ver 2) or brotli (ver 3)
// bundle: no panic, every failure a *FrameError, and the inflated output
// bounded (MaxInflatedLen) whatever the input claims.
func FuzzBundle(f *testing.F) {
	f.Add(uint8(2), bundle(f, protocol.VerZlib, cmdPacket(`{"cmd":"A"}`))[16:])
	f.Add(uint8(3), bundle(f, protocol.VerBrotli, append(cmdPacket(`{"cmd":"A"}`), cmdPacket(`{"cmd":"B"}`)...))[16:])
	f.Add(uint8(3), []byte("not brotli"))
	f.Add(uint8(2), []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	var fd protocol.FrameDecoder
	f.Fuzz(func(t *testing.T, ver uint8, body []byte) {
		v := uint16(protocol.VerZlib)
		if ver%2 == 1 {
			v = protocol.VerBrotli
		}
		msg := protocol.EncodePacket(v, protocol.OpMessage, 0, body)
		evs, errs := fd.DecodeMessage(nil, msg, 0)
		requireNamedErrors(t, errs)
		// Every event came out of at most MaxInflatedLen bytes.
		if len(evs) > protocol.MaxInflatedLen/16 {
			t.Fatalf("%d events from one message", len(evs))
		}
	})
}

// FuzzStreamReader: any byte stream split into messages by the TCP
// framing: no panic, no message longer than MaxPacketLen plus an echo,
// and reading ends (EOF or an error) instead of looping.
func FuzzStreamReader(f *testing.F) {
	f.Add(append(cmdPacket(`{"cmd":"A"}`), cmdPacket(`{"cmd":"B"}`)...))
	f.Add([]byte{0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 16, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		sr := protocol.NewStreamReader(bytes.NewReader(in))
		var total int
		for i := 0; ; i++ {
			msg, _, err := sr.Next()
			if err != nil {
				return
			}
			total += len(msg)
			if len(msg) > protocol.MaxPacketLen+256 {
				t.Fatalf("a %d-byte message", len(msg))
			}
			if i > len(in) || total > len(in)+256*(i+1) {
				t.Fatalf("stream of %d bytes gave %d messages, %d bytes", len(in), i+1, total)
			}
		}
	})
}

// pbCommand wraps protobuf bytes as the data.pb of a command.
func pbCommand(cmd string, pb []byte) []byte {
	return []byte(`{"cmd":"` + cmd + `","data":{"pb":"` + base64.StdEncoding.EncodeToString(pb) + `"}}`)
}

// FuzzProtobuf: any bytes as the protobuf of SEND_GIFT_V2 and
// INTERACT_WORD_V2: no panic; a failure is a *CommandError; a success
// encodes as JSON.
func FuzzProtobuf(f *testing.F) {
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 42)
	m = protowire.AppendTag(m, 2, protowire.BytesType)
	m = protowire.AppendString(m, "name")
	f.Add(m)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})                               // length past the end
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // a varint of 10 bytes
	f.Add([]byte{0x52, 0x02, 0x08})                                                 // gift_list item truncated
	var cd protocol.CommandDecoder
	f.Fuzz(func(t *testing.T, pb []byte) {
		for _, cmd := range []string{"SEND_GIFT_V2", "INTERACT_WORD_V2"} {
			evs, err := cd.Decode(nil, pbCommand(cmd, pb), 0)
			if err != nil {
				var ce *protocol.CommandError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: unnamed error type %T: %v", cmd, err, err)
				}
			}
			for _, e := range evs {
				if _, err := protocol.AppendJSON(nil, e); err != nil {
					t.Fatalf("%s: event does not encode: %v", cmd, err)
				}
			}
		}
	})
}
