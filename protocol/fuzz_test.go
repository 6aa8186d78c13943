package protocol_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

func addSampleSeeds(f *testing.F, wrap func([]byte) []byte) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wrap(b))
	}
}

// FuzzDecodeMessage: any WebSocket message decodes without panicking, and
// every failure is one of the named error types.
func FuzzDecodeMessage(f *testing.F) {
	addSampleSeeds(f, func(b []byte) []byte { return cmdPacket(string(b)) })
	frames, _ := filepath.Glob(filepath.Join(samplesDir, "frames", "*.hex"))
	for _, p := range frames {
		f.Add(readHex(f, p))
	}
	f.Add(bundle(f, protocol.VerBrotli, append(cmdPacket(`{"cmd":"A"}`), cmdPacket(`{"cmd":"B"}`)...)))
	f.Add(bundle(f, protocol.VerZlib, cmdPacket(`{"cmd":"DANMU_MSG","info":[[0],"x"]}`)))
	var fd protocol.FrameDecoder
	f.Fuzz(func(t *testing.T, msg []byte) {
		evs, errs := fd.DecodeMessage(nil, msg, 0)
		requireNamedErrors(t, errs)
		for _, e := range evs {
			if _, err := protocol.AppendJSON(nil, e); err != nil {
				t.Fatalf("event does not encode: %v", err)
			}
		}
	})
}

// FuzzCommand: any command body decodes without panicking, and the
// DANMU_MSG fast path and the general decoder agree exactly: the same
// events, or the same error (the fast path never accepts a body the
// general parser rejects).
func FuzzCommand(f *testing.F) {
	addSampleSeeds(f, func(b []byte) []byte { return b })
	for _, b := range danmakuBodies(f, 8) {
		f.Add(b)
	}
	f.Add([]byte(`{"cmd":"DANMU_MSG","info":[[0,1,25,1,2,3,0,"h",0,0,0,"",1,{"emoticon_unique":"e"},"{}",{"extra":"{\"id_str\":\"a\\u00e9\",\"emoticon_unique\":\"x\"}","user":{"uid":5,"base":{"name":"n"}}}],"t",[0,""],[],[],[],0,0]}`))
	f.Add([]byte(danmakuWith(`"msg_id":-12,"p_is_ack":true,"p_msg_type":1`)))
	f.Add([]byte(danmakuWith(`"msg_id":"1:1000:1000","p_is_ack":false,"msg_id":"2"`)))
	f.Add([]byte(`{"cmd":"DANMU_MSG","info":[[[[[[[[]]]]]]],"t"],"x":[1,{"a":tru}]}`))
	f.Add([]byte(`{"cmd":"DANMU_MSG","info":[[0,1,99999999999999999999,1.5,1e400],"t",[-1e3]]}`))
	var fast, slow protocol.CommandDecoder
	slow.SetSlowOnly(true)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, aerr := fast.Decode(nil, body, 0)
		b, berr := slow.Decode(nil, body, 0)
		if (aerr == nil) != (berr == nil) || aerr != nil && aerr.Error() != berr.Error() {
			t.Fatalf("paths disagree on %q: fast %v, general %v", body, aerr, berr)
		}
		if len(a) != len(b) {
			t.Fatalf("event counts differ: %d vs %d", len(a), len(b))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				ja, _ := protocol.AppendJSON(nil, a[i])
				jb, _ := protocol.AppendJSON(nil, b[i])
				if !bytes.Equal(ja, jb) {
					t.Fatalf("paths differ on %q\nfast:    %s\ngeneral: %s", body, ja, jb)
				}
			}
		}
	})
}

// requireNamedErrors fails t unless every error of a FrameDecoder is a
// *FrameError or a *CommandError.
func requireNamedErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		var fe *protocol.FrameError
		var ce *protocol.CommandError
		if !errors.As(err, &fe) && !errors.As(err, &ce) {
			t.Fatalf("unnamed error type %T: %v", err, err)
		}
	}
}
