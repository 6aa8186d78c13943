package livesim_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
)

func TestAuthReplyAndHeartbeatQuirk(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	w := dial(t, s)
	w.sendAuth(0, room, 3, c.token(room), buvid)
	msg, err := w.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// op 8, ver 1, seq 1, body exactly {"code":0}: a 26-byte packet.
	if want := "0000001a0010000100000008000000017b22636f6465223a307d"; fmt.Sprintf("%x", msg) != want {
		t.Errorf("auth reply %x, want %s", msg, want)
	}
	// Anonymous: LOG_IN_NOTICE comes next, in a brotli bundle.
	msg, _ = w.next(5 * time.Second)
	if h, _ := protocol.ParseHeader(msg); h.Ver != protocol.VerBrotli || h.Op != protocol.OpMessage || h.Seq != 0 {
		t.Errorf("LOG_IN_NOTICE frame header %+v", h)
	}
	if evs := w.events(msg); len(evs) != 1 || evs[0].Common().Cmd != "LOG_IN_NOTICE" {
		t.Errorf("second message: %v", evs)
	}
	// A ping is not answered (the pong would arrive before the reply).
	pongs := 0
	w.ws.SetPongHandler(func(string) error { pongs++; return nil })
	if err := w.ws.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	w.heartbeat("[object Object]")
	for {
		msg, err := w.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := protocol.ParseHeader(msg)
		if h.Op != protocol.OpHeartbeatReply {
			continue
		}
		// Length field 20, seq 0, popularity 1, then the echo.
		if h.PacketLen != 20 || h.Seq != 0 || h.Ver != 1 || len(msg) != 35 ||
			binary.BigEndian.Uint32(msg[16:20]) != 1 || string(msg[20:]) != "[object Object]" {
			t.Errorf("heartbeat reply %x", msg)
		}
		break
	}
	if pongs != 0 {
		t.Errorf("the simulator answered a ping")
	}
}

func TestAuthFailuresCloseTCP(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3, Rate: 1, AuthTimeout: 200 * time.Millisecond})
	c := newClient(t, s)
	buvid := c.bootstrap()
	rooms := s.RoomIDs()
	tok := c.token(rooms[0])
	cases := map[string]func(w *wsConn){
		"wrong token":   func(w *wsConn) { w.sendAuth(0, rooms[0], 3, "bm9wZQ==", buvid) },
		"foreign token": func(w *wsConn) { w.sendAuth(0, rooms[1], 3, tok, buvid) },
		"uid mismatch":  func(w *wsConn) { w.sendAuth(12345, rooms[0], 3, tok, buvid) },
		"not auth":      func(w *wsConn) { w.heartbeat("") },
		"no auth":       func(w *wsConn) {},
	}
	for name, act := range cases {
		t.Run(name, func(t *testing.T) {
			w := dial(t, s)
			act(w)
			msg, err := w.next(5 * time.Second)
			if name == "uid mismatch" {
				// An identity violation is cut right after the handshake.
				if h, _ := protocol.ParseHeader(msg); err != nil || h.Op != protocol.OpAuthReply {
					t.Fatalf("uid mismatch: want the auth reply first, got %x %v", msg, err)
				}
				_, err = w.next(5 * time.Second)
			}
			if !isTCPClose(err) {
				t.Fatalf("want TCP close without close frame, got %v", err)
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				t.Errorf("got a close frame %d", ce.Code)
			}
		})
	}
	// The uid mismatch and the heartbeat before the auth are violations;
	// bad or foreign tokens are not.
	if v := s.Violations(); v != 2 {
		t.Errorf("Violations() = %d, want 2", v)
	}
}

func TestAuthRejectFault(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1, AuthReject: 1})
	c := newClient(t, s)
	buvid := c.bootstrap()
	w := dial(t, s)
	w.sendAuth(0, s.RoomIDs()[0], 3, c.token(s.RoomIDs()[0]), buvid)
	if _, err := w.next(5 * time.Second); !isTCPClose(err) {
		t.Fatalf("want a TCP close, got %v", err)
	}
	if s.Stats().AuthRejected != 1 {
		t.Errorf("AuthRejected = %d", s.Stats().AuthRejected)
	}
	if s.Violations() != 0 { // the server's doing, not the client's
		t.Errorf("the auth-reject fault counted as a violation")
	}
}

// collect reads messages until n danmaku arrived (or fails).
func collectDanmaku(t *testing.T, w *wsConn, n int) (dm []*protocol.Danmaku, vers map[uint16]int) {
	t.Helper()
	vers = map[uint16]int{}
	for len(dm) < n {
		msg, err := w.next(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d danmaku: %v", len(dm), err)
		}
		h, _ := protocol.ParseHeader(msg)
		if h.Op == protocol.OpMessage {
			if int(h.PacketLen) != len(msg) {
				t.Fatalf("WS message holds %d bytes, packet says %d", len(msg), h.PacketLen)
			}
			vers[h.Ver]++
		}
		for _, e := range w.events(msg) {
			if d, ok := e.(*protocol.Danmaku); ok {
				dm = append(dm, d)
			}
		}
	}
	return dm, vers
}

func TestMessagesFollowProtoverAndMasking(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 300, Tick: 20 * time.Millisecond})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]

	w3 := authed(t, s, c, buvid, room, 3)
	dm, vers := collectDanmaku(t, w3, 20)
	if vers[protocol.VerBrotli] == 0 || len(vers) != 1 {
		t.Errorf("protover 3 frames by ver: %v", vers)
	}
	for _, d := range dm {
		if d.UID != 0 || !strings.HasSuffix(d.Uname, "***") || len(d.IDStr) < 34 || d.MidHash == "" {
			t.Fatalf("anonymous danmaku not masked as the real service does: %+v", d)
		}
	}

	w2 := authed(t, s, c, buvid, room, 2)
	msg, _ := w2.next(5 * time.Second) // LOG_IN_NOTICE, zlib
	if h, _ := protocol.ParseHeader(msg); h.Ver != protocol.VerZlib || !bytes.HasPrefix(msg[16:], []byte{0x78}) {
		t.Errorf("protover 2: frame %x…", msg[:min(len(msg), 20)])
	}
	_, vers = collectDanmaku(t, w2, 5)
	if vers[protocol.VerZlib] == 0 || len(vers) != 1 {
		t.Errorf("protover 2 frames by ver: %v", vers)
	}

	// Logged in: the account's token and uid give unmasked names.
	sess := s.NewSession(4242)
	u, _ := url.Parse(s.URL())
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "SESSDATA", Value: sess}})
	wl := dial(t, s)
	wl.sendAuth(4242, room, 3, c.token(room), buvid)
	dm, _ = collectDanmaku(t, wl, 10)
	for _, d := range dm {
		if d.UID == 0 || strings.HasSuffix(d.Uname, "***") {
			t.Fatalf("logged-in danmaku masked: %+v", d)
		}
	}
}

func TestShortIDGetsNoMessages(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 6, Rate: 600, Tick: 20 * time.Millisecond})
	c := newClient(t, s)
	buvid := c.bootstrap()
	var short, real int64
	for k, v := range s.ShortIDs() {
		short, real = k, v
	}
	ws := authed(t, s, c, buvid, short, 3) // token for the short id: auth works
	wr := authed(t, s, c, buvid, real, 3)
	collectDanmaku(t, wr, 30) // the real room is busy…
	ws.heartbeat("")
	for { // …but the short id only ever gets LOG_IN_NOTICE and heartbeat replies
		msg, err := ws.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := protocol.ParseHeader(msg)
		if h.Op == protocol.OpHeartbeatReply {
			break
		}
		for _, e := range ws.events(msg) {
			if e.Common().Cmd != "LOG_IN_NOTICE" {
				t.Fatalf("short-id connection received %s", e.Common().Cmd)
			}
		}
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1, HeartbeatTimeout: 300 * time.Millisecond})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	start := time.Now()
	for {
		if _, err := w.next(5 * time.Second); err != nil {
			if !isTCPClose(err) {
				t.Fatalf("want TCP close, got %v", err)
			}
			break
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("closed after %v, before the heartbeat timeout", d)
	}
}

func TestDropEveryIsGraceful(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 400, Tick: 10 * time.Millisecond, DropEvery: 300 * time.Millisecond})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	var frames int
	for {
		msg, err := w.next(10 * time.Second)
		if err != nil {
			if !isTCPClose(err) {
				t.Fatalf("want TCP close, got %v", err)
			}
			break
		}
		if h, _ := protocol.ParseHeader(msg); h.Op == protocol.OpMessage {
			frames++
		}
	}
	testkit.Poll(t, 5*time.Second, "drop accounted", func() bool { return s.Stats().Drops == 1 })
	// Every frame the simulator counted as written reached the client.
	if st := s.Stats(); int64(frames) != st.FramesWritten+1 { // +1: LOG_IN_NOTICE is not counted
		t.Errorf("client read %d op-5 frames, simulator wrote %d (+1 notice)", frames, st.FramesWritten)
	}
}

func TestStallEvery(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 200, Tick: 10 * time.Millisecond, StallEvery: 100 * time.Millisecond})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	testkit.Poll(t, 10*time.Second, "a stall", func() bool { return s.Stats().Stalls == 1 })
	// Drain what was sent before the stall, then nothing more comes and
	// heartbeats are not answered.
	w.heartbeat("")
	for {
		msg, err := w.next(500 * time.Millisecond)
		if err != nil {
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("want silence, got %v", err)
			}
			break
		}
		if h, _ := protocol.ParseHeader(msg); h.Op == protocol.OpHeartbeatReply {
			t.Fatal("a stalled connection answered a heartbeat")
		}
	}
}

func TestCorruptFrames(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 300, Tick: 10 * time.Millisecond, Corrupt: 1})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	w.next(5 * time.Second) // LOG_IN_NOTICE
	reasons := map[error]int{}
	for i := 0; i < 20; i++ {
		msg, err := w.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, errs := w.fd.DecodeMessage(nil, msg, 0)
		var fe *protocol.FrameError
		if len(errs) != 1 || !errors.As(errs[0], &fe) {
			t.Fatalf("frame %d decoded: %v", i, errs)
		}
		reasons[fe.Reason]++
	}
	if len(reasons) != 2 {
		t.Errorf("corruption kinds seen: %v (want a bad header and a bad body)", reasons)
	}
	if tr := s.Truth(); len(tr.Rooms) != 0 {
		t.Errorf("corrupted frames counted as delivered: %v", tr.Rooms)
	}
}

func TestThrottle(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 500, Tick: 10 * time.Millisecond, Throttle: 1, ThrottleKeep: 0.2})
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), s.RoomIDs()[0], 3)
	dm, _ := collectDanmaku(t, w, 50)
	gen := s.Stats().Generated
	if float64(len(dm)) > 0.6*float64(gen)*0.45 {
		t.Errorf("throttled connection got %d danmaku of ~%d generated", len(dm), int(float64(gen)*0.45))
	}
	// The room's history still shows the full traffic.
	var res struct {
		Data struct {
			Room []struct {
				IDStr string `json:"id_str"`
			} `json:"room"`
		} `json:"data"`
	}
	c.get(fmt.Sprintf("/xlive/web-room/v1/dM/gethistory?roomid=%d", s.RoomIDs()[0]), &res)
	if len(res.Data.Room) != 10 {
		t.Errorf("history has %d items", len(res.Data.Room))
	}
}

// TestTruthMatchesWhatAClientSaw: one client reads everything of every
// room; after traffic stops, its distinct ids per kind equal the truth.
func TestTruthMatchesWhatAClientSaw(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 4, Rate: 800, Tick: 10 * time.Millisecond, TrafficFor: 1500 * time.Millisecond})
	c := newClient(t, s)
	buvid := c.bootstrap()
	var conns []*wsConn
	for _, r := range s.RoomIDs() {
		conns = append(conns, authed(t, s, c, buvid, r, 3))
	}
	testkit.Poll(t, 20*time.Second, "traffic to stop and queues to drain", s.Idle)
	got := livesim.Truth{Rooms: map[string]map[string]int64{}}
	for i, w := range conns {
		w.heartbeat("") // its reply comes after every frame written before
		seen := map[string]map[string]bool{}
		for _, k := range livesim.TruthKinds {
			seen[k] = map[string]bool{}
		}
	read:
		for {
			msg, err := w.next(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range w.events(msg) {
				switch e := e.(type) {
				case *protocol.Counter:
					if e.Name == "popularity" {
						break read
					}
				case *protocol.Danmaku:
					seen["danmaku"][e.IDStr] = true
				case *protocol.Gift:
					seen["gift"][e.TID] = true
				case *protocol.SuperChat:
					seen["super_chat"][strconv.FormatInt(e.ID, 10)] = true
				case *protocol.Guard:
					seen["guard"][fmt.Sprintf("%d:%d:%d", e.UID, e.GuardLevel, e.StartTime)] = true
				case *protocol.Interact:
					key := strconv.FormatInt(e.TriggerTimeNs, 10)
					if e.TriggerTimeNs == 0 { // likes carry no id; each arrives once
						key = fmt.Sprintf("like-%d", len(seen["interact"]))
					}
					seen["interact"][key] = true
				}
			}
		}
		m := map[string]int64{}
		var total int64
		for k, ids := range seen {
			m[k] = int64(len(ids))
			total += m[k]
		}
		if total > 0 {
			got.Rooms[strconv.FormatInt(s.RoomIDs()[i], 10)] = m
		}
	}
	want := s.Truth()
	if len(want.Rooms) != 4 {
		t.Fatalf("truth has %d rooms: %v", len(want.Rooms), want.Rooms)
	}
	for room, kinds := range want.Rooms {
		for k, n := range kinds {
			if got.Rooms[room][k] != n {
				t.Errorf("room %s %s: client saw %d, truth %d", room, k, got.Rooms[room][k], n)
			}
		}
	}
	if want.Rooms[strconv.FormatInt(s.RoomIDs()[0], 10)]["gift"] == 0 {
		t.Error("the busiest room delivered no gifts")
	}
}

// TestRawTCP: the host_list "port" speaks the same packets as a byte
// stream, as BililiveRecorder and bilibili-live-ws's LiveTCP use it.
func TestRawTCP(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 300, Tick: 20 * time.Millisecond})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	nc, err := net.Dial("tcp", s.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	auth := fmt.Sprintf(`{"uid":0,"roomid":%d,"protover":3,"buvid":%q,"platform":"web","type":2,"key":%q}`, room, buvid, c.token(room))
	nc.Write(protocol.EncodePacket(protocol.VerInt, protocol.OpAuth, 1, []byte(auth)))
	nc.Write(protocol.EncodePacket(protocol.VerInt, protocol.OpHeartbeat, 1, []byte("[object Object]")))
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	sr := protocol.NewStreamReader(nc)
	var fd protocol.FrameDecoder
	var sawReply bool
	danmaku := 0
	for i := 0; danmaku < 10; i++ {
		msg, _, err := sr.Next()
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		h, _ := protocol.ParseHeader(msg)
		if i == 0 && h.Op != protocol.OpAuthReply {
			t.Fatalf("first packet op %d", h.Op)
		}
		if h.Op == protocol.OpHeartbeatReply {
			sawReply = true
			if len(msg) != 20 {
				t.Errorf("TCP heartbeat reply carries %d bytes: an echo would break stream framing", len(msg))
			}
		}
		evs, errs := fd.DecodeMessage(nil, msg, 0)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, e := range evs {
			if _, ok := e.(*protocol.Danmaku); ok {
				danmaku++
			}
		}
	}
	if !sawReply {
		t.Error("no heartbeat reply over TCP")
	}
}

// TestWSSPort: host_list's three ports are the raw TCP, TLS and plain
// WebSocket listeners, and wss:// works for a client that trusts the
// simulator's certificate (and fails for one that does not).
func TestWSSPort(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 1})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	var env envelope
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", url.Values{"id": {fmt.Sprint(room)}, "type": {"0"}, "web_location": {"444.8"}}), &env)
	var d danmuInfo
	if err := json.Unmarshal(env.Data, &d); err != nil || len(d.HostList) == 0 {
		t.Fatalf("getDanmuInfo: %v %s", err, env.Data)
	}
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	h := d.HostList[0]
	if h.Port != port(s.TCPAddr()) || h.WssPort != port(s.TLSAddr()) || h.WsPort != port(s.Addr()) || h.WssPort == h.WsPort {
		t.Fatalf("host_list %+v; tcp %s tls %s ws %s", h, s.TCPAddr(), s.TLSAddr(), s.Addr())
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CertPEM()) {
		t.Fatal("CertPEM is not a PEM certificate")
	}
	u := fmt.Sprintf("wss://%s:%d/sub", h.Host, h.WssPort)
	if _, _, err := websocket.DefaultDialer.Dial(u, nil); err == nil {
		t.Fatal("wss accepted by a client that does not trust the certificate")
	}
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}}
	ws, _, err := dialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	w := &wsConn{t: t, ws: ws}
	w.sendAuth(0, room, 3, d.Token, buvid)
	msg, err := w.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if hd, _ := protocol.ParseHeader(msg); hd.Op != protocol.OpAuthReply {
		t.Fatalf("over wss: first packet %+v, want the auth reply", hd)
	}
	// The certificate also covers Bilibili's names, so the simulator can
	// stand in for them behind a hosts file.
	for _, name := range []string{"api.live.bilibili.com", "api.bilibili.com", "www.bilibili.com", "broadcastlv.chat.bilibili.com"} {
		tc, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Errorf("TLS as %s: %v", name, err)
			continue
		}
		tc.Close()
	}
	// The HTTP paths answer over TLS too.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 5 * time.Second}
	res, err := hc.Get("https://" + s.TLSAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Set-Cookie"), "buvid3=") {
		t.Errorf("https GET /: %d %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	hc.CloseIdleConnections()
}
