package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeConn is the server side of one scripted connection.
type fakeConn struct {
	ws *websocket.Conn
}

type pkt struct {
	protocol.Header
	Body []byte
}

// read returns the next packet the client sent (one per message).
func (c *fakeConn) read() (pkt, error) {
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return pkt{}, err
	}
	h, err := protocol.ParseHeader(msg)
	if err != nil {
		return pkt{}, err
	}
	return pkt{h, msg[h.HeaderLen:h.PacketLen]}, nil
}

func (c *fakeConn) send(ver uint16, op uint32, body []byte) error {
	return c.ws.WriteMessage(websocket.BinaryMessage, protocol.EncodePacket(ver, op, 1, body))
}

func (c *fakeConn) reply() error {
	return c.send(protocol.VerInt, protocol.OpHeartbeatReply, []byte{0, 0, 0, 1})
}

// auth reads the auth packet and accepts it.
func (c *fakeConn) auth() (pkt, error) {
	p, err := c.read()
	if err != nil {
		return p, err
	}
	if p.Op != protocol.OpAuth {
		return p, errors.New("first packet is not auth")
	}
	return p, c.send(protocol.VerInt, protocol.OpAuthReply, []byte(`{"code":0}`))
}

// drain reads until the client goes away.
func (c *fakeConn) drain() {
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
	}
}

// fakeServer serves one scripted WebSocket endpoint on 127.0.0.1:0 and
// returns its ws:// URL. Cleanup waits for every script to return.
func fakeServer(t *testing.T, script func(c *fakeConn)) string {
	t.Helper()
	var wg sync.WaitGroup
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Add before the upgrade: the client may finish and the test end
		// as soon as the upgrade response is out.
		wg.Add(1)
		defer wg.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		script(&fakeConn{ws: ws})
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/sub"
}

func cfg(url string) protocol.SessionConfig {
	return protocol.SessionConfig{URL: url, RoomID: 1017, UID: 42, Key: "secret-token", Buvid: "BUVID-1",
		AuthTimeout: 5 * time.Second}
}

// jsonKeys returns the top-level keys of a JSON object in order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestSessionAuthPacket(t *testing.T) {
	for _, tc := range []struct {
		ack  bool
		keys string
	}{
		{true, "uid,roomid,protover,buvid,support_ack,queue_uuid,scene,platform,type,key"},
		{false, "uid,roomid,protover,buvid,platform,type,key"},
	} {
		t.Run(map[bool]string{true: "support_ack", false: "legacy"}[tc.ack], func(t *testing.T) {
			type seen struct {
				auth, next pkt
				err        error
			}
			got := make(chan seen, 1)
			url := fakeServer(t, func(c *fakeConn) {
				var s seen
				s.auth, s.err = c.auth() // the first packet must be the auth
				if s.err == nil {
					s.next, s.err = c.read()
				}
				got <- s
			})
			conf := cfg(url)
			conf.SupportAck = tc.ack
			sess, err := protocol.Dial(context.Background(), conf)
			if err != nil {
				t.Fatal(err)
			}
			runErr := make(chan error, 1)
			go func() { runErr <- sess.Run(context.Background(), func([]byte) {}) }()
			s := <-got
			if s.err != nil {
				t.Fatal(s.err)
			}
			if s.auth.Ver != 1 || s.auth.Seq != 1 {
				t.Errorf("auth header ver %d seq %d, want 1 1", s.auth.Ver, s.auth.Seq)
			}
			if k := strings.Join(jsonKeys(t, s.auth.Body), ","); k != tc.keys {
				t.Errorf("auth keys\n got %s\nwant %s", k, tc.keys)
			}
			var a map[string]any
			_ = json.Unmarshal(s.auth.Body, &a)
			if a["uid"] != 42.0 || a["roomid"] != 1017.0 || a["protover"] != 3.0 || a["buvid"] != "BUVID-1" ||
				a["platform"] != "web" || a["type"] != 2.0 || a["key"] != "secret-token" {
				t.Errorf("auth body %s", s.auth.Body)
			}
			if tc.ack {
				if a["support_ack"] != true || a["scene"] != "room" ||
					!regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(a["queue_uuid"].(string)) {
					t.Errorf("ack keys in auth body %s", s.auth.Body)
				}
			}
			if s.next.Op != protocol.OpHeartbeat {
				t.Errorf("packet after the auth reply is op %d, want a heartbeat", s.next.Op)
			}
			// The script returned: the server closed.
			if err := <-runErr; !errors.Is(err, protocol.ErrServerClosed) {
				t.Errorf("Run = %v, want ErrServerClosed", err)
			}
		})
	}
}

// ackServer accepts the auth, answers every heartbeat and reports every
// packet it reads.
func ackServer(t *testing.T, packets chan<- pkt) string {
	return fakeServer(t, func(c *fakeConn) {
		defer close(packets)
		if _, err := c.auth(); err != nil {
			return
		}
		for {
			p, err := c.read()
			if err != nil {
				return
			}
			packets <- p
			if p.Op == protocol.OpHeartbeat && c.reply() != nil {
				return
			}
		}
	})
}

func TestSessionAck(t *testing.T) {
	packets := make(chan pkt, 100)
	conf := cfg(ackServer(t, packets))
	conf.SupportAck = true
	sess, err := protocol.Dial(context.Background(), conf)
	if err != nil {
		t.Fatal(err)
	}
	// Take a msg_id from a decoded event, as the collector does.
	evs := decodeSample(t, "SUPER_CHAT_MESSAGE_2")
	b := evs[0].Common()
	if !b.PIsAck || b.PMsgType != 1 || b.MsgID != "28955414842843137:1000:1000" {
		t.Fatalf("decoded ack fields: %+v", *b)
	}
	if !sess.Ack(b.MsgIDRaw, b.Cmd, b.PMsgType) {
		t.Fatal("Ack = false before Run")
	}
	if !sess.Ack(json.RawMessage(`123456789012345678901`), "ONLINE_RANK_COUNT", 0) {
		t.Fatal("Ack of a numeric msg_id = false")
	}
	if sess.Ack(nil, "X", 1) || sess.Ack(json.RawMessage(`"unterminated`), "X", 1) {
		t.Error("Ack accepted an invalid msg_id")
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(ctx, func([]byte) {}) }()
	if err := sess.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sess.Acks(); n != 2 {
		t.Errorf("Acks = %d after Sync, want 2", n)
	}
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	var acks []string
	for p := range packets {
		if p.Op == protocol.OpAck {
			if p.Ver != 1 || p.Seq != 1 {
				t.Errorf("ack header ver %d seq %d", p.Ver, p.Seq)
			}
			acks = append(acks, string(p.Body))
		}
	}
	want := []string{
		`{"msg_id":"28955414842843137:1000:1000","cmd":"SUPER_CHAT_MESSAGE","p_msg_type":1}`,
		`{"msg_id":123456789012345678901,"cmd":"ONLINE_RANK_COUNT","p_msg_type":0}`,
	}
	if strings.Join(acks, "\n") != strings.Join(want, "\n") {
		t.Errorf("ack bodies\n got %q\nwant %q", acks, want)
	}
	if sess.Ack(b.MsgIDRaw, b.Cmd, 1) {
		t.Error("Ack after the session ended = true")
	}
	if err := sess.Sync(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Sync after the end = %v, want Run's error", err)
	}
}

func TestSessionAckQueueBounded(t *testing.T) {
	conf := cfg(fakeServer(t, func(c *fakeConn) {
		if _, err := c.auth(); err == nil {
			c.drain()
		}
	}))
	sess, err := protocol.Dial(context.Background(), conf)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// No Run: nothing drains the queue.
	for i := range protocol.AckQueueLen {
		if !sess.Ack(json.RawMessage(`1`), "X", 1) {
			t.Fatalf("Ack %d = false below the bound", i)
		}
	}
	if sess.Ack(json.RawMessage(`1`), "X", 1) {
		t.Error("Ack on a full queue = true")
	}
}

func isOp5(msg []byte, cmd string) bool {
	h, err := protocol.ParseHeader(msg)
	return err == nil && h.Op == protocol.OpMessage && bytes.Contains(msg[h.HeaderLen:], []byte(cmd))
}

// TestSessionSync: the server holds the reply to the first heartbeat,
// answers it only after the Sync heartbeat, then sends a frame and only
// then the Sync heartbeat's reply. Sync must return after that frame was
// handed to onMessage, not on the earlier reply.
func TestSessionSync(t *testing.T) {
	gotSync := make(chan struct{})
	release1, release2 := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	free1 := func() { once1.Do(func() { close(release1) }) }
	free2 := func() { once2.Do(func() { close(release2) }) }
	url := fakeServer(t, func(c *fakeConn) {
		if _, err := c.auth(); err != nil {
			return
		}
		for range 2 { // Run's first heartbeat, then Sync's
			if p, err := c.read(); err != nil || p.Op != protocol.OpHeartbeat {
				return
			}
		}
		close(gotSync)
		<-release1
		if c.reply() != nil || c.send(protocol.VerJSON, protocol.OpMessage, []byte(`{"cmd":"M1"}`)) != nil {
			return
		}
		<-release2
		if c.send(protocol.VerJSON, protocol.OpMessage, []byte(`{"cmd":"F"}`)) != nil || c.reply() != nil {
			return
		}
		c.drain()
	})
	// Registered after fakeServer's cleanup, so it runs first: a failing
	// test must not leave the script waiting.
	t.Cleanup(func() { free1(); free2() })
	sess, err := protocol.Dial(context.Background(), cfg(url))
	if err != nil {
		t.Fatal(err)
	}
	var sawF atomic.Bool
	sawM1 := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- sess.Run(ctx, func(msg []byte) {
			switch {
			case isOp5(msg, `"M1"`):
				close(sawM1)
			case isOp5(msg, `"F"`):
				sawF.Store(true)
			}
		})
	}()
	syncErr := make(chan error, 1)
	go func() { syncErr <- sess.Sync(ctx) }()
	<-gotSync
	free1()
	<-sawM1 // the reader has handled the first reply
	select {
	case err := <-syncErr:
		t.Fatalf("Sync returned (%v) on the reply to an earlier heartbeat", err)
	default:
	}
	free2()
	if err := <-syncErr; err != nil {
		t.Fatal(err)
	}
	if !sawF.Load() {
		t.Error("Sync returned before the frame sent ahead of its reply reached onMessage")
	}
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

func TestSessionSyncEndsWithSession(t *testing.T) {
	got := make(chan struct{})
	url := fakeServer(t, func(c *fakeConn) {
		if _, err := c.auth(); err != nil {
			return
		}
		for range 2 {
			if _, err := c.read(); err != nil {
				return
			}
		}
		close(got) // never answer; close when the script returns
	})
	sess, err := protocol.Dial(context.Background(), cfg(url))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(context.Background(), func([]byte) {}) }()
	err = sess.Sync(context.Background())
	<-got
	if !errors.Is(err, protocol.ErrServerClosed) {
		t.Errorf("Sync = %v, want the session's end error", err)
	}
	if err := <-runErr; !errors.Is(err, protocol.ErrServerClosed) {
		t.Errorf("Run = %v", err)
	}
}

// TestSessionReadLimit: a 100 MB message is refused from its frame
// headers, without being buffered.
func TestSessionReadLimit(t *testing.T) {
	url := fakeServer(t, func(c *fakeConn) {
		if _, err := c.auth(); err != nil {
			return
		}
		w, err := c.ws.NextWriter(websocket.BinaryMessage)
		if err != nil {
			return
		}
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < 100<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client went away
			}
		}
		w.Close()
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sess, err := protocol.Dial(context.Background(), cfg(url))
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = sess.Run(context.Background(), func([]byte) { called = true })
	runtime.ReadMemStats(&after)
	if !errors.Is(err, protocol.ErrMessageTooLarge) {
		t.Fatalf("Run = %v, want ErrMessageTooLarge", err)
	}
	if called {
		t.Error("onMessage saw the oversized message")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
		t.Errorf("allocated %d MB reading a refused message", alloc>>20)
	}
}

func TestDialErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		server   func(c *fakeConn)
		timeout  time.Duration
		rejected bool
		is       error
	}{
		{name: "eof", rejected: true, server: func(c *fakeConn) {
			_, _ = c.read() // then the deferred close: FIN, no close frame
		}},
		{name: "close frame", rejected: true, server: func(c *fakeConn) {
			_, _ = c.read()
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		}},
		{name: "non-zero code", rejected: true, server: func(c *fakeConn) {
			_, _ = c.read()
			_ = c.send(protocol.VerInt, protocol.OpAuthReply, []byte(`{"code":-101}`))
			c.drain()
		}},
		{name: "reset", is: syscall.ECONNRESET, server: func(c *fakeConn) {
			_, _ = c.read()
			if tcp, ok := c.ws.NetConn().(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // close sends RST
			}
			_ = c.ws.NetConn().Close()
		}},
		{name: "timeout", is: protocol.ErrAuthTimeout, timeout: 100 * time.Millisecond, server: func(c *fakeConn) {
			c.drain()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := cfg(fakeServer(t, tc.server))
			if tc.timeout > 0 {
				conf.AuthTimeout = tc.timeout
			}
			sess, err := protocol.Dial(context.Background(), conf)
			if err == nil {
				sess.Close()
				t.Fatal("Dial succeeded")
			}
			if errors.Is(err, protocol.ErrAuthRejected) != tc.rejected {
				t.Errorf("Dial = %v; errors.Is(ErrAuthRejected) = %v, want %v", err, !tc.rejected, tc.rejected)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Dial = %v, want errors.Is %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Error("error carries the token")
			}
		})
	}
}

func TestDialCancelled(t *testing.T) {
	got := make(chan struct{})
	url := fakeServer(t, func(c *fakeConn) {
		_, _ = c.read()
		close(got)
		c.drain()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	_, err := protocol.Dial(ctx, cfg(url))
	if !errors.Is(err, context.Canceled) || errors.Is(err, protocol.ErrAuthRejected) || errors.Is(err, protocol.ErrAuthTimeout) {
		t.Errorf("Dial = %v, want context.Canceled only", err)
	}
}
