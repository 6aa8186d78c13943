package livesim

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
)

// writeTimeout bounds every write to a client.
const writeTimeout = 10 * time.Second

// drainTimeout bounds how long a server-side close waits for the client
// to read what was sent and close its side.
const drainTimeout = 5 * time.Second

// queueLen is how many frames may wait for a slow client; beyond it
// frames are dropped for that client (and not counted as delivered).
const queueLen = 256

var upgrader = websocket.Upgrader{
	ReadBufferSize:  2048,
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     func(*http.Request) bool { return true },
}

// conn is one client WebSocket. One reader goroutine (serve) and one
// writer goroutine (writeLoop); only the writer writes to ws.
type conn struct {
	s    *Sim
	ws   *websocket.Conn
	ip   string
	rng  *rand.Rand // writer goroutine only
	room *room      // set at auth when the room will get messages

	anon      bool
	protover  int
	throttled bool
	stalled   atomic.Bool

	out      chan *frame
	queued   atomic.Int64 // frames in out or being written
	ctrl     chan []byte
	stopW    chan struct{} // closed: the writer stops (graceful close)
	wDone    chan struct{} // closed when the writer exits
	done     chan struct{} // closed when the connection is finished
	stopOnce sync.Once
	doneOnce sync.Once
	dropped  atomic.Bool
}

func (s *Sim) handleWS(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	c := &conn{
		s: s, ws: ws, ip: host,
		rng:   rand.New(rand.NewPCG(s.opts.Seed, uint64(time.Now().UnixNano()))),
		out:   make(chan *frame, queueLen),
		ctrl:  make(chan []byte, 16),
		stopW: make(chan struct{}),
		wDone: make(chan struct{}),
		done:  make(chan struct{}),
	}
	// The real service does not answer WebSocket pings (PROTOCOL.md §2.6)
	// and ends sessions without a close frame.
	ws.SetPingHandler(func(string) error { return nil })
	ws.SetCloseHandler(func(int, string) error { return nil })
	s.conns.Store(c, struct{}{})
	s.stats.ConnsOpen.Add(1)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

// serve is the reader: auth first, then heartbeats.
func (c *conn) serve() {
	defer c.finish()
	o := &c.s.opts
	_ = c.ws.SetReadDeadline(time.Now().Add(o.AuthTimeout))
	mt, msg, err := c.ws.ReadMessage()
	if err != nil || mt != websocket.BinaryMessage || !c.auth(msg) {
		return
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(o.HeartbeatTimeout))
	var d protocol.Decoder
	for {
		mt, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if mt != websocket.BinaryMessage {
			return // the real service accepts binary only
		}
		_ = d.DecodeMessage(msg, func(p *protocol.Packet) error {
			if p.Op == protocol.OpHeartbeat && !c.stalled.Load() && !c.dropped.Load() {
				c.s.stats.HeartbeatsSeen.Add(1)
				_ = c.ws.SetReadDeadline(time.Now().Add(o.HeartbeatTimeout))
				c.control(heartbeatReply(p.Body))
			}
			return nil
		})
	}
}

// heartbeatReply is op 3, seq 0, length field 20, popularity 1, followed
// by the client's heartbeat body, which the length does not count.
func heartbeatReply(echo []byte) []byte {
	b := make([]byte, 0, 20+len(echo))
	b = protocol.AppendPacket(b, protocol.VerInt, protocol.OpHeartbeatReply, 0, []byte{0, 0, 0, 1})
	return append(b, echo...)
}

type authBody struct {
	UID      json.Number `json:"uid"`
	RoomID   json.Number `json:"roomid"`
	Protover int         `json:"protover"`
	Key      string      `json:"key"`
	Buvid    string      `json:"buvid"`
}

// auth checks the first packet. On failure the TCP connection is closed
// without a close frame, as the real service does.
func (c *conn) auth(msg []byte) bool {
	s := c.s
	h, err := protocol.ParseHeader(msg)
	if err != nil || h.Op != protocol.OpAuth || int(h.PacketLen) > len(msg) {
		s.stats.AuthRejected.Add(1)
		return false
	}
	var a authBody
	if err := json.Unmarshal(msg[h.HeaderLen:h.PacketLen], &a); err != nil {
		s.stats.AuthRejected.Add(1)
		return false
	}
	uid, _ := a.UID.Int64()
	roomID, _ := a.RoomID.Int64()
	tok, ok := s.parseToken(a.Key)
	switch {
	case !ok, tok.room != roomID, uid != 0 && uid != tok.mid:
		s.stats.AuthRejected.Add(1)
		return false
	case s.opts.AuthReject > 0 && c.rng.Float64() < s.opts.AuthReject:
		s.stats.AuthRejected.Add(1)
		return false
	}
	c.anon = uid == 0
	c.protover = a.Protover
	c.throttled = (s.opts.Throttle > 0 && c.rng.Float64() < s.opts.Throttle) || a.Buvid == ""
	s.stats.AuthOK.Add(1)
	c.control(protocol.EncodePacket(protocol.VerInt, protocol.OpAuthReply, 1, []byte(`{"code":0}`)))
	if c.anon {
		if c.protover == 2 {
			c.control(s.loginNotice[0])
		} else {
			c.control(s.loginNotice[1])
		}
	}
	// A short id authenticates but its "room" never has messages.
	if r := s.byID[roomID]; r != nil && r.id == roomID {
		c.room = r
		r.mu.Lock()
		r.subs[c] = struct{}{}
		r.mu.Unlock()
	}
	c.scheduleFaults()
	return true
}

func (c *conn) scheduleFaults() {
	o := &c.s.opts
	if o.DropEvery > 0 {
		d := expDur(c.rng, o.DropEvery)
		t := time.AfterFunc(d, c.drop)
		go func() { <-c.done; t.Stop() }()
	}
	if o.StallEvery > 0 {
		d := expDur(c.rng, o.StallEvery)
		t := time.AfterFunc(d, func() {
			if c.stalled.CompareAndSwap(false, true) {
				c.s.stats.Stalls.Add(1)
			}
		})
		go func() { <-c.done; t.Stop() }()
	}
}

// control queues a non-droppable message (auth reply, heartbeat reply).
func (c *conn) control(b []byte) {
	select {
	case c.ctrl <- b:
	case <-c.done:
	}
}

// send queues a frame; a full queue drops it for this client.
func (c *conn) send(f *frame) {
	c.queued.Add(1)
	select {
	case c.out <- f:
	default:
		c.queued.Add(-1)
		c.s.stats.FramesDropped.Add(1)
	}
}

func (c *conn) writeLoop() {
	defer close(c.wDone)
	for {
		select {
		case <-c.done:
			return
		case <-c.stopW:
			return
		case b := <-c.ctrl:
			if c.write(b, nil) != nil {
				c.kill()
				return
			}
		case f := <-c.out:
			err := c.writeFrame(f)
			c.queued.Add(-1)
			if err != nil {
				c.kill()
				return
			}
		}
	}
}

// writeFrame writes one frame — or, by the faults, drops or corrupts it —
// and marks its events delivered when an intact frame was written.
func (c *conn) writeFrame(f *frame) error {
	o := &c.s.opts
	if c.stalled.Load() || (c.throttled && c.rng.Float64() >= o.ThrottleKeep) {
		c.s.stats.FramesDropped.Add(1)
		return nil
	}
	if o.Corrupt > 0 && c.rng.Float64() < o.Corrupt {
		c.s.stats.FramesCorrupt.Add(1)
		return c.write(corrupt(f.raw, c.rng), nil)
	}
	if err := c.write(nil, f.pm); err != nil {
		return err
	}
	c.s.stats.FramesWritten.Add(1)
	c.s.stats.MsgsWritten.Add(int64(f.b.msgs))
	f.b.markDelivered()
	return nil
}

func (c *conn) write(b []byte, pm *websocket.PreparedMessage) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if pm != nil {
		return c.ws.WritePreparedMessage(pm)
	}
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// corrupt returns an undecodable copy of a frame: either a header whose
// length field is impossible, or a compressed body cut in half (every
// zlib and brotli decoder fails on a truncated stream).
func corrupt(raw []byte, rng *rand.Rand) []byte {
	if rng.IntN(2) == 0 {
		b := append([]byte(nil), raw...)
		binary.BigEndian.PutUint32(b[0:4], 7) // shorter than the header
		return b
	}
	body := raw[protocol.HeaderLen:]
	h, _ := protocol.ParseHeader(raw)
	return protocol.EncodePacket(h.Ver, h.Op, h.Seq, body[:len(body)/2])
}

// drop ends the session the way the real service does: no close frame,
// a TCP FIN after everything already written, then the socket is closed
// once the client has read it all and closed too (or drainTimeout).
func (c *conn) drop() {
	if !c.dropped.CompareAndSwap(false, true) {
		return
	}
	c.s.stats.Drops.Add(1)
	c.stopOnce.Do(func() { close(c.stopW) })
	<-c.wDone
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(drainTimeout))
}

// kill closes the TCP connection at once.
func (c *conn) kill() { _ = c.ws.NetConn().Close() }

// finish runs when the reader ends: unsubscribe, stop the writer, close.
func (c *conn) finish() {
	c.doneOnce.Do(func() {
		if r := c.room; r != nil {
			r.mu.Lock()
			delete(r.subs, c)
			r.mu.Unlock()
		}
		close(c.done)
		<-c.wDone
		c.kill()
		c.s.conns.Delete(c)
		c.s.stats.ConnsOpen.Add(-1)
	})
}
