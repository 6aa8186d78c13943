package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Session errors; the collector picks its backoff from them (errors.Is).
var (
	// ErrAuthRejected: the server closed the connection (or answered a
	// non-zero code) instead of accepting the auth packet.
	ErrAuthRejected = errors.New("auth rejected")
	// ErrStalled: nothing arrived (no frame, no heartbeat reply) within
	// the read timeout.
	ErrStalled = errors.New("connection stalled")
	// ErrServerClosed: the server ended the connection.
	ErrServerClosed = errors.New("closed by server")
)

// Session timing defaults.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultAuthTimeout bounds dial + auth reply.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultDrainTimeout bounds a graceful close: after the close frame
	// the reader keeps reading what is in flight for at most this long.
	DefaultDrainTimeout = 5 * time.Second
	writeTimeout        = 10 * time.Second
)

// SessionConfig describes one connection to a danmaku server.
type SessionConfig struct {
	URL      string // ws://host:port/sub or wss://host:port/sub
	RoomID   int64  // real room id
	UID      int64  // 0 = anonymous; else the mid of the token's account
	Key      string // token from getDanmuInfo (a secret: never logged)
	Buvid    string // buvid3 cookie value
	Protover int    // 3 brotli (default), 2 zlib
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
	Dialer       *websocket.Dialer
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
		// gorilla's default 4 KB read buffer: most frames are smaller, and
		// larger ones are read straight into the message. It is kept per
		// connection, so with thousands of rooms its size is memory.
		c.Dialer = &websocket.Dialer{HandshakeTimeout: c.AuthTimeout, ReadBufferSize: 4 << 10}
	}
}

// Session is one authenticated connection. Run it once; it owns the
// WebSocket and closes it when Run returns.
type Session struct {
	cfg      SessionConfig
	ws       *websocket.Conn
	AuthedAt time.Time
}

// authPacket is the op-7 body, keys in the browser's order.
type authPacket struct {
	UID      int64  `json:"uid"`
	RoomID   int64  `json:"roomid"`
	Protover int    `json:"protover"`
	Buvid    string `json:"buvid"`
	Platform string `json:"platform"`
	Type     int    `json:"type"`
	Key      string `json:"key"`
}

// Dial connects, sends the auth packet and waits for the auth reply. It
// returns ErrAuthRejected when the server closes the connection or
// answers a non-zero code instead.
func Dial(ctx context.Context, cfg SessionConfig) (*Session, error) {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.AuthTimeout)
	defer cancel()
	h := http.Header{}
	if cfg.UserAgent != "" {
		h.Set("User-Agent", cfg.UserAgent)
	}
	h.Set("Origin", "https://live.bilibili.com")
	ws, _, err := cfg.Dialer.DialContext(ctx, cfg.URL, h)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	body, _ := json.Marshal(authPacket{UID: cfg.UID, RoomID: cfg.RoomID, Protover: cfg.Protover, Buvid: cfg.Buvid,
		Platform: "web", Type: 2, Key: cfg.Key})
	deadline, _ := ctx.Deadline()
	_ = ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(websocket.BinaryMessage, EncodePacket(VerInt, OpAuth, 1, body)); err != nil {
		ws.Close()
		return nil, fmt.Errorf("send auth: %w", err)
	}
	_ = ws.SetReadDeadline(deadline)
	_, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("auth reply: %w", err)
		}
		return nil, fmt.Errorf("%w: %v", ErrAuthRejected, err)
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
	return &Session{cfg: cfg, ws: ws, AuthedAt: time.Now()}, nil
}

// Close closes the connection at once (no drain). Safe to call after or
// during Run.
func (s *Session) Close() error { return s.ws.Close() }

// Run runs the reader and heartbeat pair until either ends or ctx is
// done, then waits for both and closes the connection. The reader is the
// only reader: it calls onMessage for every WebSocket message, in order,
// from Run's goroutine. The heartbeat goroutine is the only writer.
//
// When ctx is cancelled the session closes gracefully: the writer sends a
// close frame and the reader keeps delivering what is in flight until the
// server closes or DrainTimeout passes; Run then returns ctx's error.
// Otherwise it returns ErrStalled, ErrServerClosed or a write error.
func (s *Session) Run(ctx context.Context, onMessage func(msg []byte)) error {
	cfg := &s.cfg
	pairCtx, stopPair := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr = s.heartbeats(pairCtx, ctx)
	}()
	var readErr error
	for {
		if ctx.Err() == nil {
			_ = s.ws.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
		}
		_, msg, err := s.ws.ReadMessage()
		if err != nil {
			readErr = err
			break
		}
		onMessage(msg)
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
	if errors.As(readErr, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: nothing for %v", ErrStalled, cfg.ReadTimeout)
	}
	return fmt.Errorf("%w: %v", ErrServerClosed, readErr)
}

// heartbeats sends op 2 at once and every interval until pairCtx ends. If
// the parent ctx ended (a stop, not a failure), it sends a close frame and
// gives the reader DrainTimeout to read what is in flight.
func (s *Session) heartbeats(pairCtx, parent context.Context) error {
	cfg := &s.cfg
	hb := EncodePacket(VerInt, OpHeartbeat, 1, nil)
	t := time.NewTicker(cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		_ = s.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := s.ws.WriteMessage(websocket.BinaryMessage, hb); err != nil {
			_ = s.ws.NetConn().Close() // unblock the reader
			return err
		}
		select {
		case <-t.C:
			continue
		case <-pairCtx.Done():
		}
		if parent.Err() != nil {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			// net.Conn deadlines are safe to set from another goroutine.
			_ = s.ws.NetConn().SetReadDeadline(time.Now().Add(cfg.DrainTimeout))
		}
		return nil
	}
}
