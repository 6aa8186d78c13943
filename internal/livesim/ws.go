package livesim

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// conn is one client connection (WebSocket or raw TCP). One reader
// goroutine (serve) and one writer goroutine (writeLoop); only the writer
// writes.
type conn struct {
	s    *Sim
	t    transport
	ip   string
	rng  *rand.Rand // the writer goroutine's (frame faults)
	rrng *rand.Rand // the reader goroutine's (auth, the fault schedule)
	room *room      // set at auth when the room will get messages

	cl *client // ip's state
	// overLimit: the IP had IPConnLimit connections open when this one
	// came; it is cut right after its auth reply.
	overLimit bool

	anon      bool  // authenticated with uid 0: names masked
	uid       int64 // the auth's uid
	sampled   bool  // gets each command with probability AnonKeep
	protover  int
	throttled bool
	stalled   atomic.Bool
	// resend: the client announced support_ack and Options.ResendUnacked
	// is on; pending holds the p_msg_type-1 commands sent to it and not
	// yet acked, by msg_id.
	resend   bool
	pendMu   sync.Mutex
	pending  map[string]pendingAck
	nPending atomic.Int64
	cutAfter atomic.Bool // the writer closes the connection after the next control message

	ledger *connLedger // Options.Ledger; writer goroutine appends

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
	// The real service does not answer WebSocket pings (PROTOCOL.md §2.6)
	// and ends sessions without a close frame.
	ws.SetPingHandler(func(string) error { return nil })
	ws.SetCloseHandler(func(int, string) error { return nil })
	s.startConn(wsTransport{ws}, r.RemoteAddr, false)
}

// serveTCP accepts raw TCP clients on the host_list "port" (2243 on the
// real service): the same packets as a byte stream, no WebSocket framing.
func (s *Sim) serveTCP(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		s.startConn(&tcpTransport{nc: nc, r: bufio.NewReaderSize(nc, 4096)}, nc.RemoteAddr().String(), true)
	}
}

func (s *Sim) startConn(t transport, remote string, tcp bool) {
	host, _, _ := net.SplitHostPort(remote)
	cl := s.clientFor(host)
	c := &conn{
		s: s, t: t, ip: host, cl: cl, overLimit: cl.opened(s.opts.IPConnLimit), ledger: s.newLedger(remote, tcp),
		rng:   rand.New(rand.NewPCG(s.opts.Seed, uint64(time.Now().UnixNano()))),
		rrng:  rand.New(rand.NewPCG(s.opts.Seed+1, uint64(time.Now().UnixNano()))),
		out:   make(chan *frame, queueLen),
		ctrl:  make(chan []byte, 16),
		stopW: make(chan struct{}),
		wDone: make(chan struct{}),
		done:  make(chan struct{}),
	}
	if s.opts.ResendUnacked {
		c.pending = map[string]pendingAck{}
	}
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

// serve is the reader: auth first, then heartbeats and acks.
func (c *conn) serve() {
	defer c.finish()
	o := &c.s.opts
	_ = c.t.netConn().SetReadDeadline(time.Now().Add(o.AuthTimeout))
	msg, err := c.t.read()
	if err != nil {
		return
	}
	switch c.auth(msg) {
	case authRejected:
		return
	case authCut:
		// Cut right after the handshake: the writer sends the auth reply
		// and a FIN; drain what the client still sends, briefly.
		select {
		case <-c.wDone:
		case <-time.After(writeTimeout):
		}
		_ = c.t.netConn().SetReadDeadline(time.Now().Add(time.Second))
		for {
			if _, err := c.t.read(); err != nil {
				return
			}
		}
	}
	_ = c.t.netConn().SetReadDeadline(time.Now().Add(o.HeartbeatTimeout))
	var d protocol.Decoder
	for {
		msg, err := c.t.read()
		if err != nil {
			return
		}
		_ = d.DecodeMessage(msg, func(p *protocol.Packet) error {
			switch {
			case p.Op == protocol.OpAck:
				c.s.stats.Acks.Add(1)
				c.acked(p.Body)
			case p.Op == protocol.OpHeartbeat && !c.stalled.Load() && !c.dropped.Load():
				c.s.stats.HeartbeatsSeen.Add(1)
				_ = c.t.netConn().SetReadDeadline(time.Now().Add(o.HeartbeatTimeout))
				echo := p.Body
				if !c.t.echoes() {
					echo = nil
				}
				c.control(heartbeatReply(echo))
			}
			return nil
		})
	}
}

// transport is how a connection's messages travel: WebSocket binary
// messages, or packets in a raw TCP byte stream.
type transport interface {
	read() ([]byte, error) // the next client message (TCP: one packet)
	write(b []byte) error  // one server message
	writeFrame(f *frame) error
	netConn() net.Conn
	// echoes reports whether heartbeat replies carry the echo. Only the
	// WebSocket captures show it; in a TCP stream uncounted bytes would
	// break every client's framing.
	echoes() bool
}

type wsTransport struct{ ws *websocket.Conn }

func (t wsTransport) read() ([]byte, error) {
	mt, msg, err := t.ws.ReadMessage()
	if err == nil && mt != websocket.BinaryMessage {
		return nil, errors.New("text message") // the real service accepts binary only
	}
	return msg, err
}

func (t wsTransport) write(b []byte) error {
	_ = t.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return t.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (t wsTransport) writeFrame(f *frame) error {
	_ = t.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	// Not a PreparedMessage: that allocates a whole framing Conn per
	// frame, while a server's WriteMessage frames into the connection's
	// own buffer without allocating.
	return t.ws.WriteMessage(websocket.BinaryMessage, f.raw)
}

func (t wsTransport) netConn() net.Conn { return t.ws.NetConn() }
func (t wsTransport) echoes() bool      { return true }

// maxClientPacket bounds what a TCP client may send in one packet.
const maxClientPacket = 64 << 10

type tcpTransport struct {
	nc net.Conn
	r  *bufio.Reader
}

func (t *tcpTransport) read() ([]byte, error) {
	hdr, err := t.r.Peek(protocol.HeaderLen)
	if err != nil {
		return nil, err
	}
	h, err := protocol.ParseHeader(hdr)
	if err != nil || h.PacketLen > maxClientPacket {
		return nil, fmt.Errorf("bad packet from client: %v", err)
	}
	b := make([]byte, h.PacketLen)
	_, err = io.ReadFull(t.r, b)
	return b, err
}

func (t *tcpTransport) write(b []byte) error {
	_ = t.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := t.nc.Write(b)
	return err
}

func (t *tcpTransport) writeFrame(f *frame) error { return t.write(f.raw) }
func (t *tcpTransport) netConn() net.Conn         { return t.nc }
func (t *tcpTransport) echoes() bool              { return false }

// heartbeatReply is op 3, seq 0, length field 20, popularity 1, followed
// by the client's heartbeat body, which the length does not count.
func heartbeatReply(echo []byte) []byte {
	b := make([]byte, 0, 20+len(echo))
	b = protocol.AppendPacket(b, protocol.VerInt, protocol.OpHeartbeatReply, 0, []byte{0, 0, 0, 1})
	return append(b, echo...)
}

type authBody struct {
	UID        json.Number `json:"uid"`
	RoomID     json.Number `json:"roomid"`
	Protover   int         `json:"protover"`
	Key        string      `json:"key"`
	Buvid      string      `json:"buvid"`
	SupportAck bool        `json:"support_ack"`
}

// Outcomes of auth.
const (
	authOK       = iota
	authRejected // closed at once, no reply
	authCut      // replied, then cut: an identity violation, or over IPConnLimit
)

var authReply = protocol.EncodePacket(protocol.VerInt, protocol.OpAuthReply, 1, []byte(`{"code":0}`))

// auth checks the first packet. On failure the TCP connection is closed
// without a close frame, as the real service does: at once for a bad
// packet or token (and a heartbeat sent before the auth, a violation),
// right after the auth reply when the uid is not the identity the token
// was fetched under (a violation, PROTOCOL.md §10.2) or when the IP
// already had IPConnLimit connections open.
func (c *conn) auth(msg []byte) int {
	s := c.s
	h, err := protocol.ParseHeader(msg)
	if err == nil && h.Op == protocol.OpHeartbeat {
		s.violation(c.ip)
	}
	if err != nil || h.Op != protocol.OpAuth || int(h.PacketLen) > len(msg) {
		s.stats.AuthRejected.Add(1)
		return authRejected
	}
	var a authBody
	if err := json.Unmarshal(msg[h.HeaderLen:h.PacketLen], &a); err != nil {
		s.stats.AuthRejected.Add(1)
		return authRejected
	}
	uid, _ := a.UID.Int64()
	roomID, _ := a.RoomID.Int64()
	if c.ledger != nil {
		c.ledger.setRoom(roomID)
	}
	tok, ok := s.parseToken(a.Key)
	switch {
	case !ok, tok.room != roomID:
		s.stats.AuthRejected.Add(1)
		return authRejected
	case uid != tok.mid:
		s.violation(c.ip)
		s.stats.AuthRejected.Add(1)
		c.cutAfter.Store(true)
		c.control(authReply)
		return authCut
	case c.overLimit:
		c.cl.overLimit.Add(1)
		s.stats.AuthRejected.Add(1)
		c.cutAfter.Store(true)
		c.control(authReply)
		return authCut
	case s.opts.AuthReject > 0 && c.rrng.Float64() < s.opts.AuthReject:
		s.stats.AuthRejected.Add(1)
		return authRejected
	}
	c.anon = uid == 0
	c.uid = uid
	c.protover = a.Protover
	c.throttled = (s.opts.Throttle > 0 && c.rrng.Float64() < s.opts.Throttle) || a.Buvid == ""
	if c.throttled {
		s.stats.Throttled.Add(1)
	}
	c.resend = a.SupportAck && s.opts.ResendUnacked
	s.stats.AuthOK.Add(1)
	// The account's room budget is settled before the reply: a client
	// that dials its next room on the reply finds this one counted.
	r := s.byID[roomID]
	room := r != nil && r.id == roomID // a short id authenticates but its "room" never has messages
	over := false
	if room && !c.anon {
		over = s.joinRoom(uid, r.id)
	}
	c.control(authReply)
	if c.anon {
		if c.protover == 2 {
			c.control(s.loginNotice[0])
		} else {
			c.control(s.loginNotice[1])
		}
	}
	if room {
		c.sampled = (c.anon || over) && s.opts.AnonKeep < 1 && !r.official
		c.room = r
		r.mu.Lock()
		r.subs[c] = struct{}{}
		r.mu.Unlock()
	}
	c.scheduleFaults()
	return authOK
}

// pendingAck is a command sent to a connection that re-sends unacked
// ones: the single-command frame to re-send and when it was queued.
type pendingAck struct {
	f  *frame
	at time.Time
}

// expect records that the command msgID, re-sendable as f, was queued
// to c and awaits its ack.
func (c *conn) expect(msgID string, f *frame) {
	c.pendMu.Lock()
	if _, dup := c.pending[msgID]; !dup {
		c.pending[msgID] = pendingAck{f: f, at: time.Now()}
		c.nPending.Add(1)
	}
	c.pendMu.Unlock()
}

// acked handles an op-24 body {"msg_id": <as sent>, "cmd": …,
// "p_msg_type": …}: the command is no longer pending.
func (c *conn) acked(body []byte) {
	if !c.resend {
		return
	}
	var a struct {
		MsgID json.RawMessage `json:"msg_id"`
	}
	if json.Unmarshal(body, &a) != nil {
		return
	}
	id := string(a.MsgID)
	var str string
	if json.Unmarshal(a.MsgID, &str) == nil {
		id = str
	}
	c.pendMu.Lock()
	if _, ok := c.pending[id]; ok {
		delete(c.pending, id)
		c.nPending.Add(-1)
	}
	c.pendMu.Unlock()
}

// unacked is how many commands await an ack (and so a possible re-send).
func (c *conn) unacked() int64 { return c.nPending.Load() }

// resendDue removes and returns the frames of commands unacked for
// longer than ResendAfter: each is re-sent once.
func (c *conn) resendDue(now time.Time) []*frame {
	var due []*frame
	c.pendMu.Lock()
	for id, p := range c.pending {
		if now.Sub(p.at) >= c.s.opts.ResendAfter {
			due = append(due, p.f)
			delete(c.pending, id)
			c.nPending.Add(-1)
		}
	}
	c.pendMu.Unlock()
	return due
}

func (c *conn) scheduleFaults() {
	o := &c.s.opts
	if o.DropEvery > 0 {
		d := expDur(c.rrng, o.DropEvery)
		t := time.AfterFunc(d, c.drop)
		go func() { <-c.done; t.Stop() }()
	}
	if o.StallEvery > 0 {
		d := expDur(c.rrng, o.StallEvery)
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
	var resendTick <-chan time.Time
	if c.s.opts.ResendUnacked {
		t := time.NewTicker(max(10*time.Millisecond, c.s.opts.ResendAfter/5))
		defer t.Stop()
		resendTick = t.C
	}
	for {
		select {
		case <-c.done:
			return
		case <-c.stopW:
			return
		case now := <-resendTick:
			if c.nPending.Load() == 0 {
				continue
			}
			for _, f := range c.resendDue(now) {
				c.s.stats.Resent.Add(1)
				if c.writeFrame(f) != nil {
					c.kill()
					return
				}
			}
		case b := <-c.ctrl:
			if c.write(b) != nil {
				c.kill()
				return
			}
			if c.cutAfter.Load() {
				// FIN after the reply, so that a client that already sent
				// its first heartbeat still reads the reply (no RST).
				if cw, ok := c.t.netConn().(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
					c.kill()
				}
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
// and marks its events delivered when an intact frame was written to a
// client that is not a reference IP.
func (c *conn) writeFrame(f *frame) error {
	o := &c.s.opts
	if c.stalled.Load() || (c.throttled && c.rng.Float64() >= o.ThrottleKeep) {
		c.s.stats.FramesDropped.Add(1)
		return nil
	}
	if o.Corrupt > 0 && c.rng.Float64() < o.Corrupt {
		c.s.stats.FramesCorrupt.Add(1)
		return c.write(corrupt(f.raw, c.rng))
	}
	if err := c.t.writeFrame(f); err != nil {
		return err
	}
	if c.ledger != nil {
		c.ledger.add(f.digest(), len(f.raw))
	}
	c.s.stats.FramesWritten.Add(1)
	c.s.stats.MsgsWritten.Add(int64(f.msgs))
	if !c.cl.reference {
		f.markDelivered()
	}
	return nil
}

// write writes one message that is not a shared frame (a control
// message, a corrupted frame) and notes it in the ledger.
func (c *conn) write(b []byte) error {
	if err := c.t.write(b); err != nil {
		return err
	}
	if c.ledger != nil {
		c.ledger.add(sha256.Sum256(b), len(b))
	}
	return nil
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
	// *net.TCPConn, or *tls.Conn on the wss port (close_notify, then FIN).
	if cw, ok := c.t.netConn().(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.t.netConn().SetReadDeadline(time.Now().Add(drainTimeout))
}

// kill closes the TCP connection at once.
func (c *conn) kill() { _ = c.t.netConn().Close() }

// finish runs when the reader ends: unsubscribe, stop the writer, close.
func (c *conn) finish() {
	c.doneOnce.Do(func() {
		if r := c.room; r != nil {
			r.mu.Lock()
			delete(r.subs, c)
			r.mu.Unlock()
			if !c.anon {
				c.s.leaveRoom(c.uid, r.id)
			}
		}
		c.pendMu.Lock()
		clear(c.pending)
		c.nPending.Store(0)
		c.pendMu.Unlock()
		close(c.done)
		<-c.wDone
		c.kill()
		c.s.conns.Delete(c)
		c.s.stats.ConnsOpen.Add(-1)
		c.cl.closed()
	})
}
