package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

func runDecodeStream(t *testing.T, in []byte, opts protocol.DecodeStreamOptions) (out string, bad int, where []string) {
	t.Helper()
	opts.OnBad = func(e *protocol.InputError) { where = append(where, e.Error()) }
	var b bytes.Buffer
	bad, err := protocol.DecodeStream(bytes.NewReader(in), &b, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), bad, where
}

func TestDecodeStreamHex(t *testing.T) {
	danmu := hex.EncodeToString(readHex(t, filepath.Join(samplesDir, "frames", "zlib_danmu_1.hex")))
	beat := hex.EncodeToString(readHex(t, filepath.Join(samplesDir, "frames", "heartbeat_reply_1.hex")))
	in := "# a comment\n" + danmu + "\n\nzz\n0000000a0010\n  " + beat + "  \n"
	out, bad, where := runDecodeStream(t, []byte(in), protocol.DecodeStreamOptions{Hex: true, RoomID: 7})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"kind":"danmaku"`) || !strings.Contains(lines[1], `"room_id":7`) {
		t.Errorf("out:\n%s", out)
	}
	// Lines count from 1 with comments and blanks; decoding goes on.
	if bad != 2 || len(where) != 2 || !strings.HasPrefix(where[0], "line 4: bad hex") || !strings.HasPrefix(where[1], "line 5: ") {
		t.Errorf("bad %d: %q", bad, where)
	}
}

func TestDecodeStreamBinary(t *testing.T) {
	var bin []byte
	for _, f := range []string{"auth_reply_1.hex", "heartbeat_reply_1.hex", "zlib_danmu_1.hex"} {
		bin = append(bin, readHex(t, filepath.Join(samplesDir, "frames", f))...)
	}
	out, bad, where := runDecodeStream(t, bin, protocol.DecodeStreamOptions{})
	if bad != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("whole stream: %d bad %q, out:\n%s", bad, where, out)
	}
	// Cut short: the events before the cut, then one error at the cut
	// packet's offset, and no more.
	out, bad, where = runDecodeStream(t, bin[:len(bin)-5], protocol.DecodeStreamOptions{})
	var fe *protocol.FrameError
	if bad != 1 || strings.Count(out, "\n") != 2 || len(where) != 1 || !strings.HasPrefix(where[0], "offset 61: ") {
		t.Errorf("truncated: %d bad %q, out:\n%s", bad, where, out)
	}
	_, err := protocol.DecodeStream(bytes.NewReader(bin[:len(bin)-5]), &bytes.Buffer{}, protocol.DecodeStreamOptions{
		OnBad: func(e *protocol.InputError) {
			if !errors.As(e, &fe) {
				t.Errorf("%v is not a *FrameError", e)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, fmt.Errorf("disk full")
}

// A write error ends the decoding and is returned.
func TestDecodeStreamWriteError(t *testing.T) {
	danmu := hex.EncodeToString(readHex(t, filepath.Join(samplesDir, "frames", "zlib_danmu_1.hex")))
	w := &failWriter{}
	_, err := protocol.DecodeStream(strings.NewReader(danmu+"\n"+danmu+"\n"), w, protocol.DecodeStreamOptions{Hex: true})
	if err == nil || err.Error() != "disk full" || w.n != 1 {
		t.Errorf("err %v after %d writes", err, w.n)
	}
}
