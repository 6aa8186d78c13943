package livesim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// genCmd is one generated command: its cmd and JSON body.
type genCmd struct {
	cmd  string
	body []byte
}

// splitBundle splits a bundle of inner packets into commands.
func splitBundle(t *testing.T, b []byte) []genCmd {
	t.Helper()
	b = append([]byte(nil), b...) // the shard reuses its buffers
	var out []genCmd
	for len(b) > 0 {
		n := binary.BigEndian.Uint32(b)
		body := b[protocol.HeaderLen:n]
		var h struct {
			Cmd string `json:"cmd"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("not JSON: %v: %s", err, body)
		}
		out = append(out, genCmd{h.Cmd, body})
		b = b[n:]
	}
	return out
}

// genEvents runs fn (one event generator) n times, each into its own
// batch at a time one second later than the last, and returns each
// event's commands (full variant, anonymous variant).
func genEvents(t *testing.T, n int, setup func(r *room), fn func(x *shard, r *room, b *batch, now time.Time)) (full, anon [][]genCmd) {
	t.Helper()
	s, err := New(Options{Rooms: 1, Rate: 1e-9, Seed: 7, RedPocketEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := newShard(s, 99)
	r := s.rooms[0]
	r.mu.Lock()
	defer r.mu.Unlock()
	setup(r)
	now := time.Now()
	for i := 0; i < n; i++ {
		b := &batch{room: r}
		x.b, x.full, x.anon = b, x.full[:0], x.anon[:0]
		fn(x, r, b, now.Add(time.Duration(i)*time.Second))
		full = append(full, splitBundle(t, x.full))
		anon = append(anon, splitBundle(t, x.anon))
	}
	return full, anon
}

func decodeOne(t *testing.T, body []byte) []protocol.Event {
	t.Helper()
	var dec protocol.CommandDecoder
	evs, err := dec.Decode(nil, body, 1)
	if err != nil || len(evs) == 0 {
		t.Fatalf("protocol cannot decode (%v) %s", err, body)
	}
	return evs
}

// TestGuardBuyersDistinct: however fast a room buys guards (here 50
// purchases a second for two minutes), no two purchases less than a
// minute apart share a uid and a level, the key a collector links a
// GUARD_BUY to its toast by; the room's viewer pool grows instead.
func TestGuardBuyersDistinct(t *testing.T) {
	s, err := New(Options{Rooms: 1, Rate: 1e-9, Seed: 7, RedPocketEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := newShard(s, 99)
	r := s.rooms[0]
	r.mu.Lock()
	defer r.mu.Unlock()
	pool := len(r.users)
	last := map[[2]int64]int64{} // (uid, level) → start of its last purchase
	start := time.Unix(1767297600, 0)
	for i := range 6000 {
		x.b, x.full, x.anon = &batch{room: r}, x.full[:0], x.anon[:0]
		x.genGuard(r, x.b, start.Add(time.Duration(i)*20*time.Millisecond), true, false)
		g, ok := decodeOne(t, splitBundle(t, x.full)[0].body)[0].(*protocol.Guard)
		if !ok {
			t.Fatalf("purchase %d: not a guard", i)
		}
		k := [2]int64{g.UID, g.GuardLevel}
		if at, seen := last[k]; seen && g.StartTime-at < guardRepeat {
			t.Fatalf("purchase %d: uid %d level %d bought again %d s after the last", i, g.UID, g.GuardLevel, g.StartTime-at)
		}
		last[k] = g.StartTime
	}
	if len(r.users) <= pool {
		t.Errorf("the viewer pool stayed at %d", len(r.users))
	}
}

// TestGuardPurchases: GUARD_BUY (list price, no unit, start == end)
// first; USER_TOAST_MSG with the price paid; USER_TOAST_MSG_V2 in the
// §10.4 layout, source 0 then 2 with the same payflow_id; ~15 % of
// purchases only as V2 toasts, ~18 % of GUARD_BUYs without a toast.
func TestGuardPurchases(t *testing.T) {
	const n = 2000
	full, _ := genEvents(t, n, func(r *room) { r.toastV2 = true },
		func(x *shard, r *room, b *batch, now time.Time) { x.genGuard(r, b, now, true, true) })
	var v2only, buys, noToast int
	for _, cmds := range full {
		if cmds[0].cmd == "USER_TOAST_MSG_V2" {
			v2only++
		} else {
			buys++
			if len(cmds) == 1 {
				noToast++
			}
		}
		var payflow string
		var level int64
		for i, c := range cmds {
			var v struct {
				Data map[string]json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(c.body, &v); err != nil {
				t.Fatal(err)
			}
			d := v.Data
			evs := decodeOne(t, c.body)
			if g, ok := evs[0].(*protocol.Guard); !ok || g.UID == 0 || g.GuardLevel == 0 {
				t.Fatalf("%s decodes to %+v", c.cmd, evs[0])
			}
			switch c.cmd {
			case "GUARD_BUY":
				var gb struct {
					Data struct {
						Level int64 `json:"guard_level"`
						Price int64 `json:"price"`
						Start int64 `json:"start_time"`
						End   int64 `json:"end_time"`
					} `json:"data"`
				}
				json.Unmarshal(c.body, &gb)
				g := gb.Data
				if i != 0 || d["unit"] != nil || g.Start != g.End || g.Price != guardList[g.Level] {
					t.Fatalf("GUARD_BUY: %s", c.body)
				}
				level = g.Level
			case "USER_TOAST_MSG":
				var gt struct {
					Data struct {
						Level     int64  `json:"guard_level"`
						Price     int64  `json:"price"`
						PayflowID string `json:"payflow_id"`
						ToastMsg  string `json:"toast_msg"`
					} `json:"data"`
				}
				json.Unmarshal(c.body, &gt)
				g := gt.Data
				if g.PayflowID == "" || g.ToastMsg == "" || (level != 0 && g.Level != level) {
					t.Fatalf("USER_TOAST_MSG: %s", c.body)
				}
				if g.Level == 3 && g.Price != 138000 && g.Price != 168000 && g.Price != 198000 {
					t.Fatalf("captain paid %d", g.Price)
				}
				payflow = g.PayflowID
			case "USER_TOAST_MSG_V2":
				var g struct {
					Data struct {
						Sender struct {
							UID  int64 `json:"uid"`
							Base struct {
								Name string `json:"name"`
							} `json:"base"`
						} `json:"sender_uinfo"`
						Guard struct {
							Level    int64  `json:"guard_level"`
							RoleName string `json:"role_name"`
							OpType   int64  `json:"op_type"`
							Start    int64  `json:"start_time"`
						} `json:"guard_info"`
						Pay struct {
							Price     int64  `json:"price"`
							Num       int64  `json:"num"`
							Unit      string `json:"unit"`
							PayflowID string `json:"payflow_id"`
						} `json:"pay_info"`
						Gift struct {
							ID int64 `json:"gift_id"`
						} `json:"gift_info"`
						ToastMsg string `json:"toast_msg"`
						Option   struct {
							Source *int64 `json:"source"`
						} `json:"option"`
					} `json:"data"`
				}
				if err := json.Unmarshal(c.body, &g); err != nil {
					t.Fatal(err)
				}
				gd := g.Data
				if gd.Sender.UID == 0 || gd.Sender.Base.Name == "" || gd.Guard.Level == 0 || gd.Guard.RoleName == "" ||
					gd.Guard.OpType == 0 || gd.Guard.Start == 0 || gd.Pay.Price == 0 || gd.Pay.Num == 0 || gd.Pay.Unit == "" ||
					gd.Pay.PayflowID == "" || gd.Gift.ID == 0 || gd.ToastMsg == "" || gd.Option.Source == nil {
					t.Fatalf("USER_TOAST_MSG_V2 lacks a field: %s", c.body)
				}
				if payflow == "" {
					payflow = gd.Pay.PayflowID
				}
				// source 0 first, then 2, same purchase.
				wantSrc := int64(0)
				if i > 0 && cmds[i-1].cmd == "USER_TOAST_MSG_V2" {
					wantSrc = 2
				}
				if *gd.Option.Source != wantSrc || gd.Pay.PayflowID != payflow {
					t.Fatalf("V2 toast %d of %v: source %d, payflow %s (want %s)", i, cmdNames(cmds), *gd.Option.Source, gd.Pay.PayflowID, payflow)
				}
			default:
				t.Fatalf("unexpected %s", c.cmd)
			}
		}
	}
	if f := float64(v2only) / n; f < 0.11 || f > 0.19 {
		t.Errorf("%d of %d purchases only as USER_TOAST_MSG_V2", v2only, n)
	}
	if f := float64(noToast) / float64(buys); f < 0.14 || f > 0.22 {
		t.Errorf("%d of %d GUARD_BUYs without a toast", noToast, buys)
	}
}

func cmdNames(cmds []genCmd) []string {
	var s []string
	for _, c := range cmds {
		s = append(s, c.cmd)
	}
	return s
}

// pbTop parses the top-level fields of a protobuf message.
func pbTop(t *testing.T, b []byte) map[protowire.Number][][]byte {
	t.Helper()
	m := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal("bad tag")
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			t.Fatal("bad field")
		}
		v := b[:n]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(b)
		}
		m[num] = append(m[num], v)
		b = b[n:]
	}
	return m
}

// TestGiftShapes: blind boxes (total_coin the box price, combo_total_coin
// the prize), backpack gifts (non-null bag_gift), SEND_GIFT_V2 items with
// field 35 gift_info{1 img_basic}, V2-only rooms, masking on anonymous
// links; every command decodes with protocol.
func TestGiftShapes(t *testing.T) {
	for _, v2Only := range []bool{false, true} {
		full, anon := genEvents(t, 600, func(r *room) { r.v2Only = v2Only },
			func(x *shard, r *room, b *batch, now time.Time) { x.genGift(r, b, now, true, true) })
		var blind, bag int
		for i, cmds := range full {
			for j, c := range cmds {
				evs := decodeOne(t, c.body)
				if _, ok := evs[0].(*protocol.Gift); !ok {
					t.Fatalf("%s decodes to %T", c.cmd, evs[0])
				}
				switch c.cmd {
				case "SEND_GIFT":
					if v2Only {
						t.Fatal("SEND_GIFT in a V2-only room")
					}
					var g struct {
						Data struct {
							Price, Num, TotalCoin int64
							ComboTotal            int64           `json:"combo_total_coin"`
							Total                 int64           `json:"total_coin"`
							Bag                   json.RawMessage `json:"bag_gift"`
							Blind                 *struct {
								Price int64 `json:"original_gift_price"`
							} `json:"blind_gift"`
							Info struct {
								Img string `json:"img_basic"`
							} `json:"gift_info"`
							TID string `json:"tid"`
						} `json:"data"`
						MsgID string `json:"msg_id"`
					}
					json.Unmarshal(c.body, &g)
					d := g.Data
					if d.Info.Img == "" || d.TID == "" || g.MsgID == "" || d.Bag == nil {
						t.Fatalf("SEND_GIFT lacks fields: %s", c.body)
					}
					switch {
					case d.Blind != nil:
						blind++
						if d.Total != d.Blind.Price*d.Num || d.ComboTotal != d.Price*d.Num {
							t.Fatalf("blind box: %s", c.body)
						}
					case string(d.Bag) != "null":
						bag++
						if d.Total != d.Price*d.Num || d.Bag[0] != '{' {
							t.Fatalf("bag gift: %s", c.body)
						}
					}
					var m struct {
						Data struct {
							UID   int64  `json:"uid"`
							Uname string `json:"uname"`
						} `json:"data"`
					}
					json.Unmarshal(anon[i][j].body, &m)
					if m.Data.UID != 0 || m.Data.Uname != maskName(d0name(t, c.body)) {
						t.Fatalf("anonymous SEND_GIFT: %s", anon[i][j].body)
					}
				case "SEND_GIFT_V2":
					if j != len(cmds)-1 {
						t.Fatalf("SEND_GIFT_V2 not last: %v", cmdNames(cmds))
					}
					for k, variant := range []genCmd{c, anon[i][j]} {
						var v struct {
							Data struct {
								PB string `json:"pb"`
							} `json:"data"`
						}
						json.Unmarshal(variant.body, &v)
						raw, _ := base64.StdEncoding.DecodeString(v.Data.PB)
						top := pbTop(t, raw)
						if (k == 0) == (top[1] == nil) {
							t.Fatalf("SEND_GIFT_V2 variant %d: uid field %v", k, top[1])
						}
						for _, item := range top[10] {
							f := pbTop(t, item)
							if len(f[35]) != 1 || len(pbTop(t, f[35][0])[1]) != 1 {
								t.Fatalf("gift item without field 35 gift_info{1 img_basic}")
							}
						}
					}
				default:
					t.Fatalf("unexpected %s", c.cmd)
				}
			}
		}
		if !v2Only && (blind == 0 || bag == 0) {
			t.Errorf("blind boxes %d, bag gifts %d", blind, bag)
		}
	}
}

func d0name(t *testing.T, body []byte) string {
	var v struct {
		Data struct {
			Uname string `json:"uname"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.Data.Uname
}

// TestEventMix: SUPER_CHAT_MESSAGE_JPN only right after the plain
// SUPER_CHAT_MESSAGE of the same id; no INTERACT_WORD (V1); commands that
// expect an ack carry msg_id, p_is_ack, p_msg_type and send_time.
func TestEventMix(t *testing.T) {
	full, _ := genEvents(t, 30000, func(*room) {},
		func(x *shard, r *room, b *batch, now time.Time) { x.gen(r, b, now, true, true) })
	var jpn, acked int
	for _, cmds := range full {
		for j, c := range cmds {
			var v struct {
				Data struct {
					ID json.RawMessage `json:"id"`
				} `json:"data"`
				MsgID    string `json:"msg_id"`
				PIsAck   bool   `json:"p_is_ack"`
				PMsgType int    `json:"p_msg_type"`
				SendTime int64  `json:"send_time"`
			}
			json.Unmarshal(c.body, &v)
			if v.PIsAck {
				acked++
				if v.MsgID == "" || v.PMsgType != 1 || v.SendTime == 0 {
					t.Fatalf("%s: %s", c.cmd, c.body)
				}
			}
			switch c.cmd {
			case "INTERACT_WORD":
				t.Fatal("INTERACT_WORD (V1) generated")
			case "SUPER_CHAT_MESSAGE_JPN":
				jpn++
				var p struct {
					Data struct {
						ID json.RawMessage `json:"id"`
					} `json:"data"`
				}
				if j == 0 || cmds[j-1].cmd != "SUPER_CHAT_MESSAGE" || json.Unmarshal(cmds[j-1].body, &p) != nil ||
					`"`+string(p.Data.ID)+`"` != string(v.Data.ID) {
					t.Fatalf("JPN without its plain twin: %v: %s %s", cmdNames(cmds), p.Data.ID, v.Data.ID)
				}
			}
		}
	}
	if jpn == 0 || acked == 0 {
		t.Errorf("JPN %d, ack-expecting commands %d", jpn, acked)
	}
}

// TestOfficialRoomsDefault: a negative OfficialRooms is 1 % of Rooms.
func TestOfficialRoomsDefault(t *testing.T) {
	o := Options{Rooms: 250, OfficialRooms: -1}
	o.setDefaults()
	if o.OfficialRooms != 2 || o.AnonKeep != 1 {
		t.Errorf("OfficialRooms %d, AnonKeep %v", o.OfficialRooms, o.AnonKeep)
	}
}
