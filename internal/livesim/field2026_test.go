package livesim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// Tests of the 2026 field facts (PROTOCOL.md §10): sampling, masking,
// accounts, identity rules, QR login, acks, history.

// rawCmd is one command as received: its cmd and JSON body.
type rawCmd struct {
	Cmd  string
	Body []byte
}

func (c rawCmd) get(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(c.Body, v); err != nil {
		t.Fatalf("%s: %v: %s", c.Cmd, err, c.Body)
	}
}

// reader reads one connection's commands; acks, when set, answers every
// p_is_ack command with an op-24 ack.
type reader struct {
	t    *testing.T
	w    *wsConn
	acks bool
	wmu  sync.Mutex // one writer at a time (acks and heartbeats)
	cmds []rawCmd
	sent int // acks written
	done chan struct{}
}

// startReader reads w in a goroutine until stop's heartbeat is answered.
func startReader(t *testing.T, w *wsConn, acks bool) *reader {
	r := &reader{t: t, w: w, acks: acks, done: make(chan struct{})}
	go r.run()
	return r
}

func (r *reader) run() {
	defer close(r.done)
	var d protocol.Decoder
	for {
		msg, err := r.w.next(20 * time.Second)
		if err != nil {
			r.t.Errorf("read: %v", err)
			return
		}
		stop := false
		err = d.DecodeMessage(msg, func(p *protocol.Packet) error {
			switch p.Op {
			case protocol.OpHeartbeatReply:
				stop = true
			case protocol.OpMessage:
				var h struct {
					Cmd      string          `json:"cmd"`
					MsgID    json.RawMessage `json:"msg_id"`
					PIsAck   bool            `json:"p_is_ack"`
					PMsgType int64           `json:"p_msg_type"`
				}
				if err := json.Unmarshal(p.Body, &h); err != nil {
					return err
				}
				if h.Cmd == "LOG_IN_NOTICE" { // per connection, not room traffic
					return nil
				}
				r.cmds = append(r.cmds, rawCmd{h.Cmd, bytes.Clone(p.Body)})
				if r.acks && h.PIsAck {
					body := fmt.Sprintf(`{"msg_id":%s,"cmd":%q,"p_msg_type":%d}`, h.MsgID, h.Cmd, h.PMsgType)
					r.write(protocol.EncodePacket(protocol.VerInt, protocol.OpAck, 1, []byte(body)))
					r.sent++
				}
			}
			return nil
		})
		if err != nil {
			r.t.Errorf("decode: %v", err)
			return
		}
		if stop {
			return
		}
	}
}

func (r *reader) write(b []byte) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if err := r.w.ws.WriteMessage(2, b); err != nil {
		r.t.Errorf("write: %v", err)
	}
}

// stop sends a heartbeat and waits for the reader to see its reply: after
// s.Idle, everything the simulator sent has then been read.
func (r *reader) stop() []rawCmd {
	r.write(protocol.EncodePacket(protocol.VerInt, protocol.OpHeartbeat, 1, nil))
	<-r.done
	return r.cmds
}

// runTraffic lets s generate n more messages, then stops its traffic and
// waits until everything generated has been written (Sim.Idle).
func runTraffic(t *testing.T, s *livesim.Sim, n int64) {
	t.Helper()
	g0 := s.Stats().Generated
	testkit.Poll(t, 30*time.Second, "traffic", func() bool { return s.Stats().Generated >= g0+n })
	s.StopTraffic()
	testkit.Poll(t, 30*time.Second, "traffic to stop and queues to drain", s.Idle)
}

// login gives c the cookies of the simulator's account i.
func login(c *client, i int) int64 {
	u, _ := url.Parse(c.s.URL())
	for _, ck := range c.s.AccountCookies(i) {
		if ck.Name != "buvid3" {
			c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
		}
	}
	return c.s.AccountMid(i)
}

// authAs dials and authenticates as uid (ack: announce support_ack) and
// returns the connection after the auth reply.
func authAs(t *testing.T, s *livesim.Sim, c *client, buvid string, room, uid int64, ack bool) *wsConn {
	t.Helper()
	w := dial(t, s)
	body := fmt.Sprintf(`{"uid":%d,"roomid":%d,"protover":3,"buvid":%q,"support_ack":%t,"queue_uuid":"0a1b2c3d","scene":"room","platform":"web","type":2,"key":%q}`,
		uid, room, buvid, ack, c.token(room))
	w.write(protocol.EncodePacket(protocol.VerInt, protocol.OpAuth, 1, []byte(body)))
	msg, err := w.next(5 * time.Second)
	if err != nil {
		t.Fatalf("auth reply: %v", err)
	}
	if h, _ := protocol.ParseHeader(msg); h.Op != protocol.OpAuthReply {
		t.Fatalf("first message op %d, want 8", h.Op)
	}
	return w
}

func countBy(cmds []rawCmd) map[string]int {
	m := map[string]int{}
	for _, c := range cmds {
		m[c.Cmd]++
	}
	return m
}

// TestAnonymousSampling: an anonymous connection gets ~AnonKeep of its
// room's commands, an official room gives it everything, a logged-in one
// gets everything; the truth's generated counts bound what was delivered.
func TestAnonymousSampling(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, Rate: 3000, Tick: 10 * time.Millisecond,
		AnonKeep: 0.1, OfficialRooms: 1, Accounts: 1, RedPocketEvery: -1})
	anon := newClient(t, s)
	abuvid := anon.bootstrap()
	logged := newClient(t, s)
	lbuvid := logged.bootstrap()
	mid := login(logged, 1)
	rooms := s.RoomIDs()
	var rs []*reader
	for _, room := range rooms { // logged in first: it sees all the anonymous one could
		rs = append(rs, startReader(t, authAs(t, s, logged, lbuvid, room, mid, false), false))
		rs = append(rs, startReader(t, authAs(t, s, anon, abuvid, room, 0, false), false))
	}
	runTraffic(t, s, 4500)
	var got [4][]rawCmd // [logged room 0, anon room 0, logged room 1, anon room 1]
	for i, r := range rs {
		got[i] = r.stop()
	}
	// Room 0 is official: anonymous gets every command since it joined.
	tail := got[0][max(0, len(got[0])-len(got[1])):]
	if len(got[1]) < 1000 || len(tail) != len(got[1]) {
		t.Fatalf("official room: anonymous got %d commands, logged in %d", len(got[1]), len(got[0]))
	}
	for i := range tail {
		if tail[i].Cmd != got[1][i].Cmd {
			t.Fatalf("official room: command %d: anonymous got %s, logged in %s", i, got[1][i].Cmd, tail[i].Cmd)
		}
	}
	got[2], got[3] = got[3], got[2]
	// Room 1: a ~10 % sample, evenly over commands.
	share := float64(len(got[2])) / float64(len(got[3]))
	if len(got[3]) < 800 || math.Abs(share-0.1) > 0.035 {
		t.Errorf("anonymous got %d of %d commands (%.3f), want ~0.1", len(got[2]), len(got[3]), share)
	}
	full, sample := countBy(got[3]), countBy(got[2])
	for _, cmd := range []string{"DANMU_MSG", "INTERACT_WORD_V2"} {
		if r := float64(sample[cmd]) / float64(full[cmd]); full[cmd] < 200 || r < 0.04 || r > 0.18 {
			t.Errorf("%s: anonymous got %d of %d", cmd, sample[cmd], full[cmd])
		}
	}
	tr := s.Truth()
	for _, room := range rooms {
		id := strconv.FormatInt(room, 10)
		for _, k := range livesim.TruthKinds {
			// Generated counts also what came before anyone joined.
			if d, g := tr.Rooms[id][k], tr.Generated[id][k]; d > g || (k == "danmaku" && d == 0) {
				t.Errorf("room %s %s: delivered %d, generated %d", id, k, d, g)
			}
		}
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back livesim.Truth
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(rooms[1], 10)
	if back.Rooms[id]["danmaku"] != tr.Rooms[id]["danmaku"] || back.Generated[id]["gift"] != tr.Generated[id]["gift"] ||
		!strings.Contains(string(b), `"generated":{`) || !strings.Contains(string(b), `"violations":0`) {
		t.Errorf("truth JSON: %s", b)
	}
}

// pbFields parses one protobuf message's top-level fields.
func pbFields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	m := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad protobuf tag")
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			m[num] = append(m[num], v)
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			m[num] = append(m[num], v)
			b = b[n:]
		default:
			t.Fatalf("unexpected wire type %d", typ)
		}
	}
	return m
}

func pbOf(t *testing.T, c rawCmd) map[protowire.Number][]any {
	var v struct {
		Data struct {
			PB string `json:"pb"`
		} `json:"data"`
	}
	c.get(t, &v)
	raw, err := base64.StdEncoding.DecodeString(v.Data.PB)
	if err != nil {
		t.Fatal(err)
	}
	return pbFields(t, raw)
}

// TestMaskingByCommand: on an anonymous link danmaku, gifts and enters
// are masked (uid 0 / absent, name first character + ***), likes, follows
// and shares are not (§10.1); INTERACT_WORD (V1) no longer exists.
func TestMaskingByCommand(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 2500, Tick: 10 * time.Millisecond, RedPocketEvery: -1})
	c := newClient(t, s)
	r := startReader(t, authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3), false)
	runTraffic(t, s, 2500)
	cmds := r.stop()
	masked := func(name string) bool { return strings.HasSuffix(name, "***") && len([]rune(name)) == 4 }
	seen := map[string]int{}
	for _, c := range cmds {
		switch c.Cmd {
		case "DANMU_MSG", "DANMU_MSG_MIRROR":
			var v struct {
				Info []json.RawMessage `json:"info"`
			}
			c.get(t, &v)
			var user []any
			json.Unmarshal(v.Info[2], &user)
			if user[0].(float64) != 0 || !masked(user[1].(string)) {
				t.Fatalf("danmaku not masked: %s", v.Info[2])
			}
			if string(v.Info[3]) != "[]" {
				seen["medal"]++ // medals stay real
			}
		case "SEND_GIFT":
			var v struct {
				Data struct {
					UID   int64  `json:"uid"`
					Uname string `json:"uname"`
					Face  string `json:"face"`
				} `json:"data"`
			}
			c.get(t, &v)
			if v.Data.UID != 0 || !masked(v.Data.Uname) || v.Data.Face == "" {
				t.Fatalf("SEND_GIFT not masked: %+v", v.Data)
			}
		case "SEND_GIFT_V2":
			f := pbOf(t, c)
			if f[1] != nil || !masked(string(f[2][0].([]byte))) {
				t.Fatalf("SEND_GIFT_V2 not masked: uid %v name %s", f[1], f[2])
			}
		case "INTERACT_WORD_V2":
			f := pbOf(t, c)
			name := string(f[2][0].([]byte))
			typ := f[5][0].(uint64)
			seen[fmt.Sprintf("interact %d", typ)]++
			if typ == 1 && (f[1] != nil || !masked(name)) {
				t.Fatalf("enter not masked: uid %v name %q", f[1], name)
			}
			if typ != 1 && (f[1] == nil || masked(name)) {
				t.Fatalf("follow/share (msg_type %d) masked: uid %v name %q", typ, f[1], name)
			}
		case "LIKE_INFO_V3_CLICK":
			var v struct {
				Data struct {
					UID   int64  `json:"uid"`
					Uname string `json:"uname"`
				} `json:"data"`
			}
			c.get(t, &v)
			if v.Data.UID == 0 || masked(v.Data.Uname) {
				t.Fatalf("like masked: %+v", v.Data)
			}
		case "INTERACT_WORD":
			t.Fatalf("INTERACT_WORD (V1) sent: %s", c.Body)
		}
		seen[c.Cmd]++
	}
	for _, k := range []string{"DANMU_MSG", "SEND_GIFT_V2", "LIKE_INFO_V3_CLICK", "interact 1", "interact 2", "medal"} {
		if seen[k] == 0 {
			t.Errorf("no %s in %d commands: %v", k, len(cmds), seen)
		}
	}
}

// TestAccountsNavAndTokens: cookie files, nav for known and unknown
// SESSDATA, and a token bound to the account that fetched it.
func TestAccountsNavAndTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cookies")
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 50, Accounts: 2, CookieDir: dir})
	for i := 1; i <= 2; i++ {
		path := filepath.Join(dir, fmt.Sprintf("account-%d.txt", i))
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(b), "# Netscape HTTP Cookie File") {
			t.Errorf("%s: no Netscape header", path)
		}
		values := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, "\t")
			if len(f) == 7 && strings.HasSuffix(f[0], ".bilibili.com") {
				values[f[5]] = f[6]
			}
		}
		for _, ck := range s.AccountCookies(i) {
			if values[ck.Name] != ck.Value {
				t.Errorf("%s: %s = %q, want %q", path, ck.Name, values[ck.Name], ck.Value)
			}
		}
		for _, k := range []string{"SESSDATA", "bili_jct", "DedeUserID", "buvid3"} {
			if values[k] == "" {
				t.Errorf("%s: no %s", path, k)
			}
		}
		if values["DedeUserID"] != strconv.FormatInt(s.AccountMid(i), 10) {
			t.Errorf("DedeUserID %s, mid %d", values["DedeUserID"], s.AccountMid(i))
		}
	}
	if s.AccountMid(1) == s.AccountMid(2) || s.AccountCookies(3) != nil {
		t.Error("accounts are not distinct, or a third exists")
	}
	c := newClient(t, s)
	buvid := c.bootstrap()
	var nav struct {
		Code int `json:"code"`
		Data struct {
			IsLogin bool  `json:"isLogin"`
			Mid     int64 `json:"mid"`
		} `json:"data"`
	}
	u, _ := url.Parse(s.URL())
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "SESSDATA", Value: "unknown%2C1"}})
	c.get("/x/web-interface/nav", &nav)
	if nav.Code != -101 || nav.Data.IsLogin {
		t.Errorf("unknown SESSDATA: %+v", nav)
	}
	mid := login(c, 2)
	c.get("/x/web-interface/nav", &nav)
	if nav.Code != 0 || !nav.Data.IsLogin || nav.Data.Mid != mid {
		t.Errorf("account 2: nav %+v, mid %d", nav, mid)
	}
	room := s.RoomIDs()[0]
	w := authAs(t, s, c, buvid, room, mid, false) // the account's token and uid: accepted
	w.heartbeat("")
	for {
		msg, err := w.next(5 * time.Second)
		if err != nil {
			t.Fatalf("logged-in connection: %v", err)
		}
		if h, _ := protocol.ParseHeader(msg); h.Op == protocol.OpHeartbeatReply {
			break
		}
	}
	// The same token with uid 0 or another account's uid: cut after the
	// handshake.
	for _, uid := range []int64{0, s.AccountMid(1)} {
		w := authAs(t, s, c, buvid, room, uid, false)
		if _, err := w.next(5 * time.Second); !isTCPClose(err) {
			t.Errorf("uid %d with account 2's token: want a TCP close, got %v", uid, err)
		}
	}
	if v := s.Violations(); v != 2 {
		t.Errorf("Violations() = %d, want 2", v)
	}
}

// TestViolationsEarn352: repeated identity violations from one client
// get it -352 from getDanmuInfo; they are counted in the truth.
func TestViolationsEarn352(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1, Accounts: 1})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	tok := c.token(room) // anonymous
	for i := 0; i < 4; i++ {
		w := dial(t, s)
		w.sendAuth(s.AccountMid(1), room, 3, tok, buvid)
		w.heartbeat("") // at once, as BililiveRecorder does: the reply still arrives
		msg, err := w.next(5 * time.Second)
		if h, _ := protocol.ParseHeader(msg); err != nil || h.Op != protocol.OpAuthReply {
			t.Fatalf("violation %d: want the auth reply, got %x %v", i, msg, err)
		}
		if _, err := w.next(5 * time.Second); !isTCPClose(err) {
			t.Fatalf("violation %d: want a TCP close, got %v", i, err)
		}
	}
	c.token(room) // four: still served
	w := dial(t, s)
	w.heartbeat("") // before the auth: the fifth
	if _, err := w.next(5 * time.Second); !isTCPClose(err) {
		t.Fatalf("heartbeat before auth: want a TCP close, got %v", err)
	}
	var env envelope
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", url.Values{"id": {fmt.Sprint(room)}}), &env)
	if env.Code != -352 {
		t.Errorf("after 5 violations getDanmuInfo answered %d, want -352", env.Code)
	}
	if s.Violations() != 5 || s.Truth().Violations != 5 {
		t.Errorf("violations %d, truth %d", s.Violations(), s.Truth().Violations)
	}
}

// TestAccountRoomBudget: an account's connections beyond AccountRooms
// rooms are sampled like anonymous ones, names unmasked.
func TestAccountRoomBudget(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, Rate: 3000, Tick: 10 * time.Millisecond,
		AnonKeep: 0.1, Accounts: 2, AccountRooms: 1, RedPocketEvery: -1})
	c1, c2 := newClient(t, s), newClient(t, s)
	b1, b2 := c1.bootstrap(), c2.bootstrap()
	m1, m2 := login(c1, 1), login(c2, 2)
	rooms := s.RoomIDs()
	first := startReader(t, authAs(t, s, c1, b1, rooms[0], m1, false), false) // within budget
	over := startReader(t, authAs(t, s, c1, b1, rooms[1], m1, false), false)  // beyond it
	ref := startReader(t, authAs(t, s, c2, b2, rooms[1], m2, false), false)   // account 2's first room
	ref0 := startReader(t, authAs(t, s, c2, b2, rooms[0], m2, false), false)  // account 2's second room: sampled
	runTraffic(t, s, 4500)
	gFirst, gOver, gRef, gRef0 := first.stop(), over.stop(), ref.stop(), ref0.stop()
	if len(gFirst) < 1000 || len(gRef) < 800 {
		t.Fatalf("full connections got %d and %d commands", len(gFirst), len(gRef))
	}
	for _, x := range []struct {
		name       string
		got, total int
	}{{"account 1 room 2", len(gOver), len(gRef)}, {"account 2 room 1", len(gRef0), len(gFirst)}} {
		if share := float64(x.got) / float64(x.total); math.Abs(share-0.1) > 0.035 {
			t.Errorf("%s (over budget): %d of %d commands", x.name, x.got, x.total)
		}
	}
	for _, c := range gOver {
		if c.Cmd == "DANMU_MSG" {
			var v struct {
				Info []json.RawMessage `json:"info"`
			}
			c.get(t, &v)
			if bytes.HasPrefix(v.Info[2], []byte("[0,")) || bytes.Contains(v.Info[2], []byte("***")) {
				t.Fatalf("over-budget logged-in connection got masked names: %s", v.Info[2])
			}
		}
	}
}

// TestQRLogin: generate, then 86101, 86101, 86090, 86090, 0 with the new
// account's cookies; the account then works in nav. With QRExpire: 86038.
func TestQRLogin(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1})
	c := newClient(t, s)
	c.bootstrap()
	var gen struct {
		Code int `json:"code"`
		Data struct {
			URL string `json:"url"`
			Key string `json:"qrcode_key"`
		} `json:"data"`
	}
	c.get("/x/passport-login/web/qrcode/generate", &gen)
	if gen.Code != 0 || len(gen.Data.Key) != 32 || !strings.Contains(gen.Data.URL, gen.Data.Key) {
		t.Fatalf("generate: %+v", gen)
	}
	type poll struct {
		Code int `json:"code"`
		Data struct {
			Code         int    `json:"code"`
			Message      string `json:"message"`
			RefreshToken string `json:"refresh_token"`
			URL          string `json:"url"`
		} `json:"data"`
	}
	var codes []int
	var cookies []*http.Cookie
	var last poll
	for i := 0; i < 6; i++ {
		req, _ := http.NewRequest("GET", s.URL()+"/x/passport-login/web/qrcode/poll?qrcode_key="+gen.Data.Key, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p poll
		json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		codes = append(codes, p.Data.Code)
		if p.Data.Code == 0 {
			cookies, last = res.Cookies(), p
		}
	}
	if fmt.Sprint(codes) != "[86101 86101 86090 86090 0 86038]" {
		t.Errorf("poll codes %v", codes)
	}
	got := map[string]string{}
	for _, ck := range cookies {
		got[ck.Name] = ck.Value
	}
	for _, k := range []string{"SESSDATA", "bili_jct", "DedeUserID", "DedeUserID__ckMd5", "sid"} {
		if got[k] == "" {
			t.Errorf("no %s cookie on success: %v", k, cookies)
		}
	}
	if len(last.Data.RefreshToken) != 32 || !strings.Contains(last.Data.URL, "DedeUserID=") {
		t.Errorf("success body: %+v", last.Data)
	}
	if got["DedeUserID"] != strconv.FormatInt(s.AccountMid(1), 10) {
		t.Errorf("DedeUserID %s, account 1 is %d", got["DedeUserID"], s.AccountMid(1))
	}
	u, _ := url.Parse(s.URL())
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "SESSDATA", Value: got["SESSDATA"]}})
	var nav struct {
		Code int `json:"code"`
		Data struct {
			Mid int64 `json:"mid"`
		} `json:"data"`
	}
	c.get("/x/web-interface/nav", &nav)
	if nav.Code != 0 || strconv.FormatInt(nav.Data.Mid, 10) != got["DedeUserID"] {
		t.Errorf("nav with the QR login's SESSDATA: %+v", nav)
	}

	e := newSim(t, livesim.Options{Rooms: 1, Rate: 1, QRExpire: true})
	ce := newClient(t, e)
	ce.get("/x/passport-login/web/qrcode/generate", &gen)
	var p poll
	ce.get("/x/passport-login/web/qrcode/poll?qrcode_key="+gen.Data.Key, &p)
	if p.Code != 0 || p.Data.Code != 86038 {
		t.Errorf("QRExpire: %+v", p)
	}
}

// TestAcksAndResend: with support_ack, commands that carry p_is_ack get
// acked and counted; a connection that does not ack gets each such command
// once more; the truth counts distinct events all the same.
func TestAcksAndResend(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 400, Tick: 10 * time.Millisecond,
		ResendUnacked: true, ResendAfter: 500 * time.Millisecond, RedPocketEvery: -1})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	acker := startReader(t, authAs(t, s, c, buvid, room, 0, true), true)
	silent := startReader(t, authAs(t, s, c, buvid, room, 0, true), false)
	plain := startReader(t, authAs(t, s, c, buvid, room, 0, false), false) // no support_ack: no re-sends
	runTraffic(t, s, 400)
	a, b, p := acker.stop(), silent.stop(), plain.stop()
	ids := func(cmds []rawCmd) map[string]int {
		m := map[string]int{}
		for _, c := range cmds {
			var v struct {
				MsgID    string `json:"msg_id"`
				PIsAck   bool   `json:"p_is_ack"`
				PMsgType int    `json:"p_msg_type"`
				SendTime int64  `json:"send_time"`
			}
			c.get(t, &v)
			if v.PIsAck {
				if v.PMsgType != 1 || !strings.HasSuffix(v.MsgID, ":1000:1000") || v.SendTime == 0 {
					t.Fatalf("%s: ack fields %+v", c.Cmd, v)
				}
				m[v.MsgID]++
			}
		}
		return m
	}
	ia, ib, ip := ids(a), ids(b), ids(p)
	if len(ia) < 10 {
		t.Fatalf("only %d ackable commands", len(ia))
	}
	if int64(acker.sent) != s.Acks() || s.Acks() != int64(len(ia)) {
		t.Errorf("acks: sent %d, Acks() %d, ackable commands %d", acker.sent, s.Acks(), len(ia))
	}
	for name, m := range map[string]map[string]int{"acker": ia, "silent": ib, "plain": ip} {
		want := 1
		if name == "silent" {
			want = 2 // the original and one re-send
		}
		for id, n := range m {
			if n != want {
				t.Errorf("%s got msg_id %s %d×, want %d", name, id, n, want)
			}
		}
	}
	if s.Stats().Resent != int64(len(ib)) || len(ib) < len(ia)-5 {
		t.Errorf("Resent %d; silent saw %d ackable commands, acker %d", s.Stats().Resent, len(ib), len(ia))
	}
	// A re-send never inflates the truth.
	id := strconv.FormatInt(room, 10)
	tr := s.Truth()
	for _, k := range livesim.TruthKinds {
		if tr.Rooms[id][k] > tr.Generated[id][k] {
			t.Errorf("%s: delivered %d > generated %d", k, tr.Rooms[id][k], tr.Generated[id][k])
		}
	}
	if cmds := countBy(a); cmds["SUPER_CHAT_MESSAGE"]+cmds["SEND_GIFT"]+cmds["ONLINE_RANK_COUNT"] == 0 {
		t.Errorf("no ackable commands of the usual kinds: %v", cmds)
	}
}

// TestHistoryIsGenerated: dM/gethistory lists the room's last 10
// generated danmaku, whatever a (sampled) connection received.
func TestHistoryIsGenerated(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 500, Tick: 10 * time.Millisecond,
		AnonKeep: 0.1, Accounts: 1, RedPocketEvery: -1})
	anon, logged := newClient(t, s), newClient(t, s)
	ab, lb := anon.bootstrap(), logged.bootstrap()
	mid := login(logged, 1)
	room := s.RoomIDs()[0]
	ra := startReader(t, authAs(t, s, anon, ab, room, 0, false), false)
	rl := startReader(t, authAs(t, s, logged, lb, room, mid, false), false)
	runTraffic(t, s, 500)
	ra.stop()
	var order []string
	seen := map[string]bool{}
	for _, c := range rl.stop() {
		if !strings.HasPrefix(c.Cmd, "DANMU_MSG") {
			continue
		}
		var v struct {
			Info []json.RawMessage `json:"info"`
		}
		c.get(t, &v)
		var info0 []json.RawMessage
		json.Unmarshal(v.Info[0], &info0)
		var m struct {
			Extra string `json:"extra"`
		}
		json.Unmarshal(info0[15], &m)
		var ex struct {
			IDStr string `json:"id_str"`
		}
		json.Unmarshal([]byte(m.Extra), &ex)
		if !seen[ex.IDStr] {
			seen[ex.IDStr] = true
			order = append(order, ex.IDStr)
		}
	}
	var res struct {
		Data struct {
			Room []struct {
				IDStr string `json:"id_str"`
			} `json:"room"`
		} `json:"data"`
	}
	anon.get(fmt.Sprintf("/xlive/web-room/v1/dM/gethistory?roomid=%d", room), &res)
	if len(order) < 10 || len(res.Data.Room) != 10 {
		t.Fatalf("%d danmaku generated, history has %d", len(order), len(res.Data.Room))
	}
	for i, h := range res.Data.Room {
		if want := order[len(order)-10+i]; h.IDStr != want {
			t.Errorf("history[%d] = %s, want %s", i, h.IDStr, want)
		}
	}
	if g := s.Generated()[strconv.FormatInt(room, 10)]["danmaku"]; g < int64(len(order)) {
		t.Errorf("Generated danmaku %d, logged-in connection saw %d", g, len(order))
	}
}

// TestRedPocketRebroadcast: a red pocket's start is re-broadcast with the
// same lot_id and the fields common clients read.
func TestRedPocketRebroadcast(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 20, Tick: 10 * time.Millisecond,
		RedPocketEvery: 50 * time.Millisecond, RedPocketRepeat: 100 * time.Millisecond})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	var d protocol.Decoder
	lots := map[int64]int{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		msg, err := w.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		again := false
		d.DecodeMessage(msg, func(p *protocol.Packet) error {
			if !bytes.Contains(p.Body, []byte(`"POPULARITY_RED_POCKET_V2_START"`)) {
				return nil
			}
			var v struct {
				Data map[string]json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(p.Body, &v); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"lot_id", "sender_uid", "sender_name", "sender_face", "start_time", "end_time", "last_time",
				"remove_time", "replace_time", "current_time", "lot_status", "h5_url", "user_status", "awards", "lot_config_id",
				"total_price", "wait_num", "wait_num_v2", "is_mystery", "rp_type", "sender_uinfo", "icon_url", "animation_icon_url"} {
				if v.Data[k] == nil {
					t.Errorf("red pocket lacks %s", k)
				}
			}
			lot, _ := strconv.ParseInt(string(v.Data["lot_id"]), 10, 64)
			lots[lot]++
			again = lots[lot] > 1
			return nil
		})
		if again {
			return
		}
	}
	t.Fatalf("no red pocket re-broadcast: %v", lots)
}
