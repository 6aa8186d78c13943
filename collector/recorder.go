package collector

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// frameDecoders are shared by every connection: a decoder (brotli and
// zlib state, inflate buffers, JSON parsers: about 60 KB once warm) is
// only busy while one message is decoded, so a few serve thousands of
// connections. A message is self-contained, so nothing carries over from
// one message to the next, and decoded events own their memory.
var frameDecoders = sync.Pool{New: func() any { return new(protocol.FrameDecoder) }}

// errHardStop ends message handling when the writer is gone.
var errHardStop = errors.New("hard stop")

// connState is one connection's record, updated by its reader (counts)
// and its watchdog (coverage) at once; record() is a consistent-enough
// snapshot for the connections table.
type connState struct {
	base                             storage.Conn // fixed fields: seq, room, host, times, identity
	frames, events, bytes, bad, acks atomic.Int64
	histSeen, histArrived            atomic.Int64
	sampled                          atomic.Bool
}

func (s *connState) record() storage.Conn {
	r := s.base
	r.Frames, r.Events, r.Bytes, r.Bad = s.frames.Load(), s.events.Load(), s.bytes.Load(), s.bad.Load()
	r.Acks = s.acks.Load()
	r.HistSeen, r.HistArrived = s.histSeen.Load(), s.histArrived.Load()
	r.Sampled = s.sampled.Load()
	return r
}

// acker is the part of protocol.Session the recorder needs.
type acker interface {
	Ack(msgIDRaw json.RawMessage, cmd string, pMsgType int64) bool
}

// msgIDs remembers the msg_ids a room received recently (PROTOCOL.md
// §10.3: the server may re-send a command it thinks was not acked; a
// p_msg_type 1 command whose id was seen is dropped). Bounded by
// msgIDMemory and msgIDMax. Used by one reader at a time.
type msgIDs struct {
	m map[string]int64 // id → first seen, unix ms
}

const (
	msgIDMemory = 10 * time.Minute
	msgIDMax    = 8192
)

// seenBefore records id at now and reports whether it was already there.
func (r *msgIDs) seenBefore(id string, now int64) bool {
	if r.m == nil {
		r.m = map[string]int64{}
	}
	if _, ok := r.m[id]; ok {
		return true
	}
	if len(r.m) >= msgIDMax {
		old := now - msgIDMemory.Milliseconds()
		for k, t := range r.m {
			if t < old {
				delete(r.m, k)
			}
		}
		if len(r.m) >= msgIDMax { // a flood of fresh ids: forget half
			n := 0
			for k := range r.m {
				delete(r.m, k)
				if n++; n >= msgIDMax/2 {
					break
				}
			}
		}
	}
	r.m[id] = now
	return false
}

// recorder turns one connection's WebSocket messages into storage
// records: events (after msg_id dedup), raw bodies with --raw, malformed
// input, acks for commands that ask for one, and the danmaku keys the
// coverage watchdog matches. It runs on the connection's reader goroutine.
type recorder struct {
	room  int64
	raw   bool
	send  func(storage.Record) bool
	st    *connState
	seen  *seenSet
	ids   *msgIDs
	ack   acker // nil: no acks
	obs   Observer
	evs   []protocol.Event
	dupes int64 // commands dropped as re-sent (msg_id seen)
}

// message handles one WebSocket message. It returns errHardStop when the
// writer is gone; every other problem is stored as malformed.
func (r *recorder) message(msg []byte) error {
	now := time.Now().UnixMilli()
	r.st.frames.Add(1)
	r.st.bytes.Add(int64(len(msg)))
	r.obs.Frame()
	fd := frameDecoders.Get().(*protocol.FrameDecoder)
	defer frameDecoders.Put(fd)
	ferr := fd.Packets.DecodeMessage(msg, func(p *protocol.Packet) error {
		var cerr error
		r.evs, cerr = fd.PacketEvents(r.evs[:0], p, r.room)
		if cerr != nil {
			var ce *protocol.CommandError
			body := p.Body
			if errors.As(cerr, &ce) {
				body = ce.Body
			}
			r.malformed(now, cerr, body)
			return nil
		}
		if len(r.evs) == 0 {
			return nil
		}
		b := r.evs[0].Common()
		if b.PIsAck && r.ack != nil && len(b.MsgIDRaw) > 0 {
			if r.ack.Ack(b.MsgIDRaw, b.Cmd, b.PMsgType) {
				r.st.acks.Add(1)
				r.obs.Ack()
			}
		}
		if b.MsgID != "" && b.PMsgType == 1 && r.ids.seenBefore(b.MsgID, now) {
			r.dupes++
			r.obs.Resent()
			return nil
		}
		if r.raw && p.Op == protocol.OpMessage {
			if !r.send(storage.Raw{RoomID: r.room, RecvMs: now, Cmd: b.Cmd, Body: append([]byte(nil), p.Body...)}) {
				return errHardStop
			}
		}
		for _, e := range r.evs {
			if d, ok := e.(*protocol.Danmaku); ok {
				r.seen.add(checkKey(d.CheckTs, d.CheckCt), now)
			}
			if _, ok := e.(*protocol.Control); ok {
				continue
			}
			if !r.send(storage.Event{E: e, RecvMs: now}) {
				return errHardStop
			}
			r.st.events.Add(1)
			r.obs.Event(string(e.Common().Kind))
			if _, ok := e.(*protocol.Other); ok {
				r.obs.UnknownCommand() // as stored in unknown_commands
			}
		}
		return nil
	})
	if ferr != nil && !errors.Is(ferr, errHardStop) {
		r.malformed(now, ferr, msg)
	}
	if errors.Is(ferr, errHardStop) {
		return ferr
	}
	return nil
}

func (r *recorder) malformed(now int64, reason error, body []byte) {
	r.st.bad.Add(1)
	r.obs.BadFrame()
	r.send(storage.Malformed{RoomID: r.room, RecvMs: now, Reason: reason.Error(), Body: append([]byte(nil), body...)})
}
