package protocol

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/internal/sourceaddr"
	"github.com/gorilla/websocket"
)

// Session errors; the collector picks its backoff from them (errors.Is).
var (
	// ErrAuthRejected: the server answered the auth packet with a non-zero
	// code or another packet, or closed the connection (close frame or
	// EOF) before an auth reply. A sub-second cut after auth means
	// "re-fetch the token and back off" (docs/protocol.md §10.2). A connection
	// reset or a timeout is not a rejection.
	ErrAuthRejected = errors.New("auth rejected")
	// ErrAuthTimeout: no auth reply within AuthTimeout.
	ErrAuthTimeout = errors.New("auth reply timed out")
	// ErrStalled: nothing arrived (no frame, no heartbeat reply) within
	// the read timeout.
	ErrStalled = errors.New("connection stalled")
	// ErrServerClosed: the server ended the connection.
	ErrServerClosed = errors.New("closed by server")
	// ErrMessageTooLarge: the server sent a WebSocket message longer than
	// MaxMessageLen. It is refused from its frame headers, never buffered
	// whole.
	ErrMessageTooLarge = errors.New("websocket message too large")
)

// MaxMessageLen is the longest WebSocket message a session reads:
// MaxPacketLen plus 64 KiB of slack (a heartbeat reply's echo, a few
// small packets after a big one).
const MaxMessageLen = MaxPacketLen + 64<<10

// Session timing defaults.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultAuthTimeout bounds dial + auth reply.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultDrainTimeout bounds a graceful close: after the close frame
	// the reader keeps reading what is in flight for at most this long.
	DefaultDrainTimeout = 5 * time.Second
	// AckQueueLen is how many op-24 acks may wait for the writer; Ack
	// returns false when the queue is full.
	AckQueueLen  = 256
	writeTimeout = 10 * time.Second
)

// SessionConfig describes one connection to a danmaku server.
type SessionConfig struct {
	URL      string // ws://host:port/sub or wss://host:port/sub
	RoomID   int64  // real room id
	UID      int64  // 0 = anonymous; else the mid of the token's account
	Key      string // token from getDanmuInfo (a secret: never logged)
	Buvid    string // buvid3 cookie value
	Protover int    // 3 brotli (default), 2 zlib
	// SupportAck sends the 2026 web player's auth form: support_ack true,
	// a random 8-hex queue_uuid and scene "room" (docs/protocol.md §2.3). The
	// server then expects an op-24 ack (Session.Ack) for every command
	// with p_is_ack true. false sends the legacy form without these keys.
	SupportAck bool
	// UserAgent is sent on the upgrade; the web token is tied to it.
	UserAgent string
	// HeartbeatInterval between op-2 packets; default 30 s.
	HeartbeatInterval time.Duration
	// ReadTimeout: no message for this long means a stalled connection;
	// default 2 × HeartbeatInterval (a heartbeat reply is due every
	// interval even in a silent room).
	ReadTimeout  time.Duration
	AuthTimeout  time.Duration // default DefaultAuthTimeout
	DrainTimeout time.Duration // default DefaultDrainTimeout
	// LocalAddr, when valid, is the local address the connection leaves
	// from (collect --source-addr); the default Dialer binds it. Not
	// together with Dialer.
	LocalAddr netip.Addr
	Dialer    *websocket.Dialer
}

func (c *SessionConfig) defaults() {
	if c.Protover == 0 {
		c.Protover = 3
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 2 * c.HeartbeatInterval
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{HandshakeTimeout: c.AuthTimeout, ReadBufferSize: connReadBuffer,
			WriteBufferSize: connWriteBuffer, WriteBufferPool: writeBuffers}
		if c.LocalAddr.IsValid() {
			c.Dialer.NetDialContext = sourceaddr.Dialer(c.LocalAddr).DialContext
		}
	}
}

// A connection's own buffers sit idle between frames, and a collector
// holds thousands of connections: the read buffer is small (a frame's
// payload is read past it straight into a pooled message buffer), and
// the write buffer is taken from a pool only while a packet is written.
const (
	connReadBuffer  = 512
	connWriteBuffer = 512
)

// writeBuffers is the write-buffer pool every session's connection
// shares.
var writeBuffers = &sync.Pool{}

// messages holds the buffers messages are read into; a buffer is taken
// when a message starts and returned when onMessage returns (which, in
// the collector, waits for the journal's write: at thousands of rooms
// hundreds of buffers are out at once). A new one holds a typical frame
// (about 1 KB compressed) and grows for a larger one.
var messages = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

// maxPooledMessage: a buffer grown past this by a large message is not
// kept.
const maxPooledMessage = 16 << 10

// Session is one authenticated connection. Run it once; it owns the
// WebSocket and closes it when Run returns. Ack, Acks and Sync are safe
// for concurrent use with Run and with each other.
type Session struct {
	cfg      SessionConfig
	ws       *websocket.Conn
	AuthedAt time.Time

	syncs chan *syncWaiter // Sync requests for the writer
	acks  atomic.Int64     // op-24 packets written

	ackMu   sync.Mutex
	ackq    [][]byte      // encoded op-24 packets for the writer, at most AckQueueLen
	ackWake chan struct{} // cap 1: ackq has packets

	mu      sync.Mutex
	hbSent  int64         // heartbeats written (or being written)
	hbRead  int64         // heartbeat replies the reader has passed on
	waiters []*syncWaiter // pending Syncs, by n ascending

	done   chan struct{} // closed when Run returns
	endErr error         // Run's result; read after done is closed
}

// syncWaiter is one Sync: closed ch once heartbeat reply number n is read.
type syncWaiter struct {
	n  int64
	ch chan struct{}
}

// authPacket is the op-7 body, keys in the browser's order (docs/protocol.md
// §2.3). The ack keys are omitted unless SupportAck is set.
type authPacket struct {
	UID        int64  `json:"uid"`
	RoomID     int64  `json:"roomid"`
	Protover   int    `json:"protover"`
	Buvid      string `json:"buvid"`
	SupportAck bool   `json:"support_ack,omitempty"`
	QueueUUID  string `json:"queue_uuid,omitempty"`
	Scene      string `json:"scene,omitempty"`
	Platform   string `json:"platform"`
	Type       int    `json:"type"`
	Key        string `json:"key"`
}

// authBody returns the op-7 JSON for cfg.
func authBody(cfg *SessionConfig) []byte {
	a := authPacket{UID: cfg.UID, RoomID: cfg.RoomID, Protover: cfg.Protover, Buvid: cfg.Buvid,
		Platform: "web", Type: 2, Key: cfg.Key}
	if cfg.SupportAck {
		var r [4]byte
		_, _ = rand.Read(r[:])
		a.SupportAck, a.QueueUUID, a.Scene = true, hex.EncodeToString(r[:]), "room"
	}
	body, _ := json.Marshal(a)
	return body
}

// Dial connects, sends the auth packet (the first packet; no heartbeat
// goes out before the auth reply) and waits for the auth reply. Errors:
// ErrAuthRejected when the server answers a non-zero code or closes the
// connection instead (see there), ErrAuthTimeout when no reply comes
// within AuthTimeout, ctx's error when ctx ends first; anything else
// (dial failure, connection reset) is returned wrapped as it is.
func Dial(ctx context.Context, cfg SessionConfig) (*Session, error) {
	if cfg.Dialer != nil && cfg.LocalAddr.IsValid() {
		return nil, errors.New("protocol: set SessionConfig.Dialer or LocalAddr, not both")
	}
	cfg.defaults()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, cfg.AuthTimeout)
	defer cancel()
	h := http.Header{}
	if cfg.UserAgent != "" {
		h.Set("User-Agent", cfg.UserAgent)
	}
	h.Set("Origin", "https://live.bilibili.com")
	ws, _, err := cfg.Dialer.DialContext(ctx, cfg.URL, h)
	if err != nil {
		if parent.Err() == nil && ctx.Err() != nil {
			return nil, fmt.Errorf("dial: %w after %v: %w", ErrAuthTimeout, cfg.AuthTimeout, err)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(MaxMessageLen)
	deadline, _ := ctx.Deadline()
	// A cancelled ctx interrupts the blocking write and read below.
	stop := context.AfterFunc(ctx, func() { _ = ws.NetConn().SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(websocket.BinaryMessage, EncodePacket(VerInt, OpAuth, 1, authBody(&cfg))); err != nil {
		ws.Close()
		return nil, authErr(parent, ctx, cfg.AuthTimeout, "send auth", err)
	}
	_ = ws.SetReadDeadline(deadline)
	_, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, authErr(parent, ctx, cfg.AuthTimeout, "auth reply", err)
	}
	if !stop() {
		// ctx ended as the reply arrived: the deadlines are spoilt.
		ws.Close()
		return nil, authErr(parent, ctx, cfg.AuthTimeout, "auth reply", ctx.Err())
	}
	hd, err := ParseHeader(msg)
	if err != nil || hd.Op != OpAuthReply {
		ws.Close()
		return nil, fmt.Errorf("%w: first packet is op %d, not an auth reply", ErrAuthRejected, hd.Op)
	}
	var reply struct {
		Code *int `json:"code"`
	}
	if json.Unmarshal(msg[hd.HeaderLen:min(int(hd.PacketLen), len(msg))], &reply) != nil || reply.Code == nil || *reply.Code != 0 {
		ws.Close()
		return nil, fmt.Errorf("%w: auth reply %q", ErrAuthRejected, msg[hd.HeaderLen:])
	}
	_ = ws.SetWriteDeadline(time.Time{})
	return &Session{
		cfg: cfg, ws: ws, AuthedAt: time.Now(),
		ackWake: make(chan struct{}, 1), syncs: make(chan *syncWaiter), done: make(chan struct{}),
	}, nil
}

// authErr classifies a failed auth write or read: the parent's end, the
// auth timeout, the server closing the connection (rejection), or else
// the error as is.
func authErr(parent, ctx context.Context, timeout time.Duration, what string, err error) error {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("%s: %w", what, parent.Err())
	case ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: %w after %v", what, ErrAuthTimeout, timeout)
	case errors.As(err, &ce):
		// gorilla reports a close frame, and an EOF as close 1006.
		return fmt.Errorf("%w: %s: %v", ErrAuthRejected, what, err)
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("%s: %w: %w", what, ErrMessageTooLarge, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Close closes the connection at once (no drain). Safe to call after or
// during Run.
func (s *Session) Close() error { return s.ws.Close() }

// Run runs the reader and the writer until either ends or ctx is done,
// then waits for both and closes the connection. The reader is the only
// reader: it calls onMessage for every WebSocket message, in order, from
// Run's goroutine; msg is valid only until onMessage returns (its buffer
// is reused), so keep a copy of what must outlive the call. The writer goroutine is the only writer: heartbeats
// (one at once, then every HeartbeatInterval), acks and Sync heartbeats.
//
// When ctx is cancelled the session closes gracefully: the writer sends
// what acks are queued and a close frame, and the reader keeps delivering
// what is in flight until the server closes or DrainTimeout passes; Run
// then returns ctx's error. Otherwise it returns ErrStalled,
// ErrServerClosed, ErrMessageTooLarge or a write error.
func (s *Session) Run(ctx context.Context, onMessage func(msg []byte)) (err error) {
	defer func() {
		s.endErr = err
		close(s.done)
	}()
	cfg := &s.cfg
	pairCtx, stopPair := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr = s.writer(pairCtx, ctx)
	}()
	var readErr error
	for {
		if ctx.Err() == nil {
			_ = s.ws.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
		}
		if readErr = s.readMessage(onMessage); readErr != nil {
			break
		}
	}
	stopPair()
	wg.Wait()
	s.ws.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if writeErr != nil {
		return fmt.Errorf("heartbeat: %w", writeErr)
	}
	var ne net.Error
	switch {
	case errors.Is(readErr, websocket.ErrReadLimit):
		return fmt.Errorf("%w: over %d bytes: %w", ErrMessageTooLarge, MaxMessageLen, readErr)
	case errors.As(readErr, &ne) && ne.Timeout():
		return fmt.Errorf("%w: nothing for %v", ErrStalled, cfg.ReadTimeout)
	}
	return fmt.Errorf("%w: %v", ErrServerClosed, readErr)
}

// readMessage reads one WebSocket message into a pooled buffer and passes
// it to onMessage (the buffer is reused once onMessage returns).
func (s *Session) readMessage(onMessage func(msg []byte)) error {
	_, r, err := s.ws.NextReader()
	if err != nil {
		return err
	}
	bp := messages.Get().(*[]byte)
	msg, err := readAll(r, (*bp)[:0])
	if err == nil {
		replies := heartbeatReplies(msg)
		onMessage(msg)
		if replies > 0 {
			s.repliesRead(replies)
		}
	}
	if cap(msg) <= maxPooledMessage {
		*bp = msg[:0]
		messages.Put(bp)
	}
	return err
}

// readAll reads r to its end into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// heartbeatReplies counts the heartbeat replies among msg's top-level
// packets (a reply's uncounted echo is skipped as Decoder does). Replies
// are never bundled.
func heartbeatReplies(msg []byte) int64 {
	var n int64
	for off := 0; off < len(msg); {
		h, err := ParseHeader(msg[off:])
		if err != nil || off+int(h.PacketLen) > len(msg) {
			break
		}
		off += int(h.PacketLen)
		if h.Op == OpHeartbeatReply {
			n++
			off += echoLen(msg[off:])
		}
	}
	return n
}

// repliesRead records k more heartbeat replies passed to onMessage and
// releases the Syncs whose heartbeat they answer. Replies come in the
// order heartbeats were sent, so reply number n answers heartbeat n.
func (s *Session) repliesRead(k int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hbRead += k
	i := 0
	for ; i < len(s.waiters) && s.waiters[i].n <= s.hbRead; i++ {
		close(s.waiters[i].ch)
		s.waiters[i] = nil
	}
	s.waiters = s.waiters[i:]
}

// writer sends a heartbeat at once and every interval, the queued acks
// and the Sync heartbeats until pairCtx ends. If the parent ctx ended (a
// stop, not a failure), it flushes the queued acks, sends a close frame
// and gives the reader DrainTimeout to read what is in flight.
func (s *Session) writer(pairCtx, parent context.Context) error {
	cfg := &s.cfg
	t := time.NewTicker(cfg.HeartbeatInterval)
	defer t.Stop()
	err := s.heartbeat(nil)
	for err == nil {
		select {
		case <-t.C:
			err = s.heartbeat(nil)
		case w := <-s.syncs:
			// Acks queued before the Sync go out before its heartbeat.
			if err = s.flushAcks(); err == nil {
				err = s.heartbeat(w)
			}
		case <-s.ackWake:
			err = s.flushAcks()
		case <-pairCtx.Done():
			if parent.Err() != nil {
				_ = s.flushAcks()
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
				_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				// net.Conn deadlines are safe to set from another goroutine.
				_ = s.ws.NetConn().SetReadDeadline(time.Now().Add(cfg.DrainTimeout))
			}
			return nil
		}
	}
	_ = s.ws.NetConn().Close() // unblock the reader
	return err
}

var heartbeatPacket = EncodePacket(VerInt, OpHeartbeat, 1, nil)

// heartbeat writes one op 2; w, when not nil, is released by its reply.
func (s *Session) heartbeat(w *syncWaiter) error {
	s.mu.Lock()
	s.hbSent++
	if w != nil {
		// Registered before the write: the reply may be read before
		// WriteMessage returns.
		w.n = s.hbSent
		s.waiters = append(s.waiters, w)
	}
	s.mu.Unlock()
	return s.write(heartbeatPacket)
}

func (s *Session) write(pkt []byte) error {
	_ = s.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return s.ws.WriteMessage(websocket.BinaryMessage, pkt)
}

func (s *Session) writeAck(pkt []byte) error {
	if err := s.write(pkt); err != nil {
		return err
	}
	s.acks.Add(1)
	return nil
}

// flushAcks writes the acks queued now.
func (s *Session) flushAcks() error {
	s.ackMu.Lock()
	q := s.ackq
	s.ackq = nil
	s.ackMu.Unlock()
	for _, pkt := range q {
		if err := s.writeAck(pkt); err != nil {
			return err
		}
	}
	return nil
}

// Ack queues an op-24 message ack (ver 1, seq 1, body
// {"msg_id":<msgIDRaw>,"cmd":"<cmd>","p_msg_type":<pMsgType>}, docs/protocol.md
// §10.3) for the writer; pass the event's Base.MsgIDRaw, Cmd and
// PMsgType. It never blocks. It returns false, sending nothing, when the
// queue (AckQueueLen) is full, the session is over, or msgIDRaw is not a
// JSON value. true means queued: an ack queued as the session ends is
// not written. Safe for concurrent use.
func (s *Session) Ack(msgIDRaw json.RawMessage, cmd string, pMsgType int64) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if len(msgIDRaw) == 0 || !json.Valid(msgIDRaw) {
		return false
	}
	c, _ := json.Marshal(cmd)
	body := make([]byte, 0, len(msgIDRaw)+len(c)+40)
	body = append(body, `{"msg_id":`...)
	body = append(body, msgIDRaw...)
	body = append(body, `,"cmd":`...)
	body = append(body, c...)
	body = append(body, `,"p_msg_type":`...)
	body = strconv.AppendInt(body, pMsgType, 10)
	body = append(body, '}')
	s.ackMu.Lock()
	if len(s.ackq) >= AckQueueLen {
		s.ackMu.Unlock()
		return false
	}
	s.ackq = append(s.ackq, EncodePacket(VerInt, OpAck, 1, body))
	s.ackMu.Unlock()
	select {
	case s.ackWake <- struct{}{}:
	default:
	}
	return true
}

// Acks returns how many op-24 acks have been written so far.
func (s *Session) Acks() int64 { return s.acks.Load() }

// Sync sends one extra heartbeat (op 2) now, after any acks already
// queued, and blocks until its reply (op 3) has been read and passed to
// Run's onMessage: everything the server sent before answering that
// heartbeat has then been passed to onMessage too. Heartbeats are
// answered in order, so the session counts heartbeats sent and replies
// read; a server that skips replies only makes Sync wait for a later one.
// It returns nil, ctx's error, or Run's error once Run has returned
// (called before Run, it waits for Run to start). Safe for concurrent use.
func (s *Session) Sync(ctx context.Context) error {
	w := &syncWaiter{ch: make(chan struct{})}
	select {
	case s.syncs <- w:
	case <-s.done:
		return s.endErr
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.ch:
		return nil
	case <-s.done:
		select {
		case <-w.ch:
			return nil
		default:
		}
		return s.endErr
	case <-ctx.Done():
		return ctx.Err()
	}
}
