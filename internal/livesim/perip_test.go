package livesim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/sourceaddr"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
)

// clientFrom is newClient with every connection leaving from ip (any
// 127.0.0.0/8 address is local on Linux).
func clientFrom(t *testing.T, s *livesim.Sim, ip string) *client {
	t.Helper()
	c := newClient(t, s)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = sourceaddr.Dialer(netip.MustParseAddr(ip)).DialContext
	jar, _ := cookiejar.New(nil)
	c.hc = &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// authFrom dials from ip, authenticates anonymously to room and returns
// the connection with the first message after the auth.
func authFrom(t *testing.T, s *livesim.Sim, c *client, ip, buvid string, room int64) *wsConn {
	t.Helper()
	d := &websocket.Dialer{NetDialContext: sourceaddr.Dialer(netip.MustParseAddr(ip)).DialContext}
	ws, _, err := d.Dial("ws://"+s.Addr()+"/sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	w := &wsConn{t: t, ws: ws}
	w.sendAuth(0, room, 3, c.token(room), buvid)
	msg, err := w.next(5 * time.Second)
	if err != nil {
		t.Fatalf("auth reply: %v", err)
	}
	if h, _ := protocol.ParseHeader(msg); h.Op != protocol.OpAuthReply {
		t.Fatalf("first message op %d, want 8", h.Op)
	}
	return w
}

// TestIPConnLimit: one IP may hold IPConnLimit danmaku connections; the
// next gets its auth reply and then a TCP close, and is counted; another
// IP has a limit of its own; a closed connection frees its place.
func TestIPConnLimit(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3, Rate: 300, Tick: 20 * time.Millisecond, IPConnLimit: 2})
	a := clientFrom(t, s, "127.0.0.1")
	buvid := a.bootstrap()
	rooms := s.RoomIDs()
	first := authFrom(t, s, a, "127.0.0.1", buvid, rooms[0])
	authFrom(t, s, a, "127.0.0.1", buvid, rooms[1])
	over := authFrom(t, s, a, "127.0.0.1", buvid, rooms[2])
	if _, err := over.next(5 * time.Second); !isTCPClose(err) {
		t.Fatalf("the third connection from one IP: %v, want a TCP close after the auth reply", err)
	}
	b := clientFrom(t, s, "127.0.0.2")
	other := authFrom(t, s, b, "127.0.0.2", b.bootstrap(), rooms[2])
	if _, err := other.next(5 * time.Second); err != nil {
		t.Fatalf("another IP's first connection: %v", err)
	}
	first.ws.Close()
	over.ws.Close()
	testkit.Poll(t, 5*time.Second, "the closed connections to free their places", func() bool {
		return s.IPStats()["127.0.0.1"].Open == 1
	})
	again := authFrom(t, s, a, "127.0.0.1", buvid, rooms[2])
	if _, err := again.next(5 * time.Second); err != nil {
		t.Fatalf("a connection after one closed: %v", err)
	}
	st := s.IPStats()
	if got := st["127.0.0.1"]; got.Connections != 4 || got.PeakConnections != 3 || got.OverLimit != 1 {
		t.Errorf("127.0.0.1: %+v, want 4 connections, peak 3, 1 over the limit", got)
	}
	if got := st["127.0.0.2"]; got.Connections != 1 || got.PeakConnections != 1 || got.OverLimit != 0 {
		t.Errorf("127.0.0.2: %+v, want 1 connection, peak 1, none over the limit", got)
	}
}

// TestHTTPBudgetPerIP: each source IP spends a budget of its own, is
// banned (412) alone, and is counted alone; the truth file carries the
// counters.
func TestHTTPBudgetPerIP(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, HTTPRate: 0.01, HTTPBurst: 3})
	a, b := clientFrom(t, s, "127.0.0.3"), clientFrom(t, s, "127.0.0.4")
	for i := 1; i <= 3; i++ {
		if code := a.get("/room/v1/Area/getListByAreaID?areaId=0&page=1", nil); code != http.StatusOK {
			t.Fatalf("request %d of a budget of 3: HTTP %d", i, code)
		}
	}
	if code := a.get("/room/v1/Room/room_init?id=1", nil); code != http.StatusPreconditionFailed {
		t.Fatalf("the 4th request: HTTP %d, want 412", code)
	}
	if code := b.get("/room/v1/Room/room_init?id=1", nil); code != http.StatusOK {
		t.Fatalf("another IP while the first is banned: HTTP %d, want 200", code)
	}
	st := s.IPStats()
	if got := st["127.0.0.3"]; got.HTTPRequests != 4 || got.HTTP412 != 1 || got.Paths["/room/v1/Area/getListByAreaID"] != 3 {
		t.Errorf("127.0.0.3: %+v, want 4 requests, 1 answered 412, 3 listings", got)
	}
	if got := st["127.0.0.4"]; got.HTTPRequests != 1 || got.HTTP412 != 0 {
		t.Errorf("127.0.0.4: %+v, want 1 request, no 412", got)
	}
	raw, err := json.Marshal(s.Truth())
	if err != nil {
		t.Fatal(err)
	}
	var back livesim.Truth
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.IPs["127.0.0.3"].HTTP412 != 1 || back.IPs["127.0.0.4"].HTTPRequests != 1 {
		t.Errorf("the truth file's ips: %s", raw)
	}
}

// TestReferenceIPs: a reference IP is held to no per-IP limit — more
// danmaku connections than IPConnLimit stay up, requests beyond the HTTP
// budget are answered — and what it is sent is not delivered in the
// truth; beside it, another IP is limited and its deliveries counted as
// ever. An entry that is not an IP address is refused.
func TestReferenceIPs(t *testing.T) {
	if _, err := livesim.New(livesim.Options{ReferenceIPs: []string{"localhost"}}); err == nil || !strings.Contains(err.Error(), `"localhost"`) {
		t.Errorf("ReferenceIPs localhost: %v, want an error naming it", err)
	}
	s := newSim(t, livesim.Options{Rooms: 3, Rate: 300, Tick: 20 * time.Millisecond, IPConnLimit: 1, HTTPRate: 0.01, HTTPBurst: 8,
		ReferenceIPs: []string{"127.0.0.6"}})
	rooms := s.RoomIDs()
	ref := clientFrom(t, s, "127.0.0.6")
	buvid := ref.bootstrap()
	for i := range 10 { // with the 2 of the bootstrap and 3 tokens: 15 requests, a budget of 8
		if code := ref.get("/room/v1/Area/getListByAreaID?areaId=0&page=1", nil); code != http.StatusOK {
			t.Fatalf("the reference IP's listing %d: HTTP %d", i+1, code)
		}
	}
	for _, room := range rooms {
		w := authFrom(t, s, ref, "127.0.0.6", buvid, room)
		danmakuIn(t, w, fmt.Sprintf("the reference IP's connection to room %d", room))
	}
	if st := s.IPStats()["127.0.0.6"]; st.Open != 3 || st.PeakConnections != 3 || st.OverLimit != 0 || st.HTTPRequests != 15 || st.HTTP412 != 0 {
		t.Errorf("127.0.0.6: %+v, want 3 connections open of a limit of 1, none cut, 15 requests, no 412", st)
	}
	truth := s.Truth()
	for _, room := range rooms {
		id := strconv.FormatInt(room, 10)
		if truth.Rooms[id] != nil || truth.Generated[id]["danmaku"] == 0 {
			t.Errorf("room %s, watched by the reference IP only: delivered %v, generated %v; want nothing delivered of what was generated",
				id, truth.Rooms[id], truth.Generated[id])
		}
	}
	other := clientFrom(t, s, "127.0.0.7")
	obuvid := other.bootstrap()
	danmakuIn(t, authFrom(t, s, other, "127.0.0.7", obuvid, rooms[0]), "another IP's connection")
	over := authFrom(t, s, other, "127.0.0.7", obuvid, rooms[1])
	if _, err := over.next(5 * time.Second); !isTCPClose(err) {
		t.Fatalf("another IP's second connection, over its limit of 1: %v, want a TCP close after the auth reply", err)
	}
	for i := range 10 {
		if code := other.get("/room/v1/Area/getListByAreaID?areaId=0&page=1", nil); code == http.StatusPreconditionFailed {
			break
		} else if i == 9 {
			t.Fatalf("another IP: 14 requests on a budget of 8 all answered (last HTTP %d)", code)
		}
	}
	id0 := strconv.FormatInt(rooms[0], 10)
	testkit.Poll(t, 10*time.Second, "the other IP's danmaku delivered in the truth", func() bool { return s.Truth().Rooms[id0]["danmaku"] > 0 })
	truth = s.Truth()
	for _, room := range rooms[1:] {
		if id := strconv.FormatInt(room, 10); truth.Rooms[id] != nil {
			t.Errorf("room %s, watched by the reference IP only: delivered %v", id, truth.Rooms[id])
		}
	}
	if st := s.IPStats()["127.0.0.7"]; st.OverLimit != 1 || st.HTTP412 != 1 {
		t.Errorf("127.0.0.7: %+v, want 1 connection cut for the limit and 1 request answered 412", st)
	}
}

// danmakuIn reads w until a message carries a danmaku.
func danmakuIn(t *testing.T, w *wsConn, what string) {
	t.Helper()
	for {
		msg, err := w.next(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: no danmaku: %v", what, err)
		}
		for _, e := range w.events(msg) {
			if e.Common().Kind == protocol.KindDanmaku {
				return
			}
		}
	}
}

// TestDeliveredSince: what a room delivered of the events generated
// after a snapshot — all of them for a room watched throughout, though
// it delivered more before; nothing for a room nobody watched.
func TestDeliveredSince(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, Rate: 300, Tick: 20 * time.Millisecond})
	rooms := s.RoomIDs()
	c := newClient(t, s)
	w := authed(t, s, c, c.bootstrap(), rooms[0], 3)
	danmakuIn(t, w, "the connection")
	g := s.Generated()
	danmakuIn(t, w, "the connection after the snapshot")
	s.StopTraffic()
	testkit.Poll(t, 10*time.Second, "the traffic's end", s.Idle)
	since, gen, truth := s.DeliveredSince(g), s.Generated(), s.Truth()
	id0, id1 := strconv.FormatInt(rooms[0], 10), strconv.FormatInt(rooms[1], 10)
	for _, kind := range livesim.TruthKinds {
		if made := gen[id0][kind] - g[id0][kind]; since[id0][kind] != made {
			t.Errorf("room %s %s: %d delivered of the %d generated after the snapshot, want all", id0, kind, since[id0][kind], made)
		}
	}
	if before := truth.Rooms[id0]["danmaku"] - since[id0]["danmaku"]; before <= 0 || before > g[id0]["danmaku"] {
		t.Errorf("room %s: %d danmaku delivered in all, %d of them after the snapshot: want some before it, at most the %d generated then",
			id0, truth.Rooms[id0]["danmaku"], since[id0]["danmaku"], g[id0]["danmaku"])
	}
	first := s.FirstDelivered()
	if f := first[id0]["danmaku"]; f > g[id0]["danmaku"]-truth.Rooms[id0]["danmaku"]+since[id0]["danmaku"] {
		t.Errorf("room %s: first danmaku delivered %d, after the %d generated less those delivered before the snapshot", id0, f, g[id0]["danmaku"])
	}
	if f := first[id1]["danmaku"]; f != gen[id1]["danmaku"] {
		t.Errorf("room %s, not watched: first danmaku delivered %d, want the %d generated (none)", id1, f, gen[id1]["danmaku"])
	}
	if since[id1] != nil || gen[id1]["danmaku"] == 0 {
		t.Errorf("room %s, not watched: %v delivered since the snapshot of %v generated", id1, since[id1], gen[id1])
	}
}
