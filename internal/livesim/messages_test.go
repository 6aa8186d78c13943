package livesim

import (
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// danmakuCases cover what a DANMU_MSG writer must escape and vary: text
// that needs JSON escapes at both nesting levels (info[1] and the extra
// document carried as a string), stickers, replies, mirrors, masking.
var danmakuCases = []Danmaku{
	{User: User{UID: 1234, Name: "视频用户", UserLevel: 12, MedalLevel: 21, MedalName: "牌子", MedalOwner: "主播", MedalRoom: 5, MedalRUID: 77, GuardLevel: 3, Wealth: 20},
		Text: "hello 世界", IDStr: "0123456789abcdef0123456789abcdef3e8", TsMs: 1732000000123, Rnd: 99, Color: 16777215, Ct: "0A1B2C3D"},
	{User: User{UID: 5, Name: `quo"te\back`},
		Text: "a \"quoted\" \\ back\nline\ttab \x01 </script> 😀", IDStr: "ffff", TsMs: 1, Rnd: 1, Color: 1, Ct: "00000000",
		ReplyUID: 42, ReplyName: `re"ply\`},
	{User: User{UID: 6, Name: "贴纸"}, Text: "[dog]", Sticker: `upower_[dog"]`, StickerURL: "https://i0.hdslb.com/x.png", IDStr: "abc", Ct: "FFFFFFFF", Mirror: true, Suffix: ":4:0:2:2:2:0"},
	{User: User{UID: 7, Name: "匿名", MedalLevel: 3, MedalName: "m"}, Text: "masked", IDStr: "def", Masked: true, Ct: "12345678"},
}

var update = flag.Bool("update", false, "rewrite the golden files")

func TestAppendDanmakuDecodes(t *testing.T) {
	var dec protocol.CommandDecoder
	for i, d := range danmakuCases {
		body := AppendDanmaku(nil, &d)
		if !json.Valid(body) {
			t.Fatalf("case %d: not JSON: %s", i, body)
		}
		// extra is itself a JSON document inside a string.
		var v struct {
			Info []json.RawMessage `json:"info"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		var info0 []json.RawMessage
		if err := json.Unmarshal(v.Info[0], &info0); err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Extra string `json:"extra"`
		}
		if err := json.Unmarshal(info0[15], &ex); err != nil {
			t.Fatal(err)
		}
		var extra struct {
			Content    string `json:"content"`
			IDStr      string `json:"id_str"`
			Emoticon   string `json:"emoticon_unique"`
			ReplyUname string `json:"reply_uname"`
			IsMirror   bool   `json:"is_mirror"`
		}
		if err := json.Unmarshal([]byte(ex.Extra), &extra); err != nil {
			t.Fatalf("case %d: extra is not JSON: %v\n%s", i, err, ex.Extra)
		}
		if extra.Content != d.Text || extra.IDStr != d.IDStr || extra.Emoticon != d.Sticker || extra.ReplyUname != d.ReplyName || extra.IsMirror != d.Mirror {
			t.Errorf("case %d: extra %+v", i, extra)
		}
		evs, err := dec.Decode(nil, body, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("case %d: decode: %v %v", i, evs, err)
		}
		e, ok := evs[0].(*protocol.Danmaku)
		if !ok {
			t.Fatalf("case %d: got %T", i, evs[0])
		}
		wantUID, wantName := d.User.UID, d.User.Name
		if d.Masked {
			wantUID, wantName = 0, maskName(d.User.Name)
		}
		if e.Text != d.Text || e.IDStr != d.IDStr || e.UID != wantUID || e.Uname != wantName ||
			e.ReplyUID != d.ReplyUID || e.ReplyUname != d.ReplyName || e.Emoticon != d.Sticker ||
			e.IsMirror != d.Mirror || e.CheckCt != d.Ct || e.MidHash != midHash(d.User.UID) {
			t.Errorf("case %d: decoded %+v", i, e)
		}
	}
}

// TestAppendDanmakuBytes pins the exact bytes (so a faster writer cannot
// drift from the shape). Regenerate with
// `go test ./internal/livesim -run TestAppendDanmakuBytes -update`.
func TestAppendDanmakuBytes(t *testing.T) {
	var all []byte
	for _, d := range danmakuCases {
		all = AppendDanmaku(all, &d)
		all = append(all, '\n')
	}
	const path = "testdata/danmaku.golden"
	if *update {
		if err := os.WriteFile(path, all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(all) != string(want) {
		t.Errorf("AppendDanmaku output changed:\n got %s\nwant %s", all, want)
	}
}

func TestMidHash(t *testing.T) {
	// PROTOCOL.md §5.1: the lowercase hex CRC32 of the decimal uid,
	// zero-padded to 8 digits.
	for uid, want := range map[int64]string{0: "f4dbdf21", 1: "83dcefb7", 1234: "9be3e0a3"} {
		if got := midHash(uid); got != want {
			t.Errorf("midHash(%d) = %s, want %s", uid, got, want)
		}
	}
	if got := hex8(0xab, "0123456789ABCDEF"); got != "000000AB" {
		t.Errorf("hex8 = %s", got)
	}
}

// newRefs generates n events of kind in ts.
func newRefs(ts *truthSet, kind, n int) []truthRef {
	refs := make([]truthRef, n)
	for i := range refs {
		refs[i] = ts.newRef(kind)
	}
	return refs
}

// TestTruthFirst: first is the first delivered event's sequence number
// per kind, past empty 64-bit words; the number generated when none was.
func TestTruthFirst(t *testing.T) {
	var ts truthSet
	refs := newRefs(&ts, tDanmaku, 200)
	newRefs(&ts, tGift, 2)
	ts.deliver([]truthRef{refs[199], refs[130], refs[131]})
	f := ts.first()
	if f[tDanmaku] != 130 || f[tGift] != 2 || f[tGuard] != 0 {
		t.Errorf("first: %v, want 130 danmaku, 2 gifts (none delivered), 0 guards (none generated)", f)
	}
}

// TestTruthSince: since counts the delivered events from a sequence
// number on, across 64-bit words, per kind.
func TestTruthSince(t *testing.T) {
	var ts truthSet
	refs := newRefs(&ts, tDanmaku, 200)
	newRefs(&ts, tGift, 1)
	var picked []truthRef
	for _, r := range refs {
		if r.seq%3 == 0 { // 0, 3, …, 198: 67 events
			picked = append(picked, r)
		}
	}
	ts.deliver(picked)
	for _, c := range []struct{ from, want int64 }{{0, 67}, {1, 66}, {63, 46}, {64, 45}, {65, 45}, {128, 24}, {198, 1}, {199, 0}, {500, 0}} {
		if got := ts.since([nTruth]int64{tDanmaku: c.from}); got[tDanmaku] != c.want || got[tGift] != 0 {
			t.Errorf("since(%d): %v, want %d danmaku and no gift", c.from, got, c.want)
		}
	}
}
