package collector

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/storage"
)

// connState is one connection's record, updated by its reader (frames,
// bytes, journaled), the decoder (events, bad, acks, decoded) and its
// watchdog (coverage) at once; record() is a consistent-enough snapshot
// for the connections table.
type connState struct {
	base                             storage.Conn // fixed fields: seq, room, host, times, identity
	frames, events, bytes, bad, acks atomic.Int64
	histSeen, histArrived            atomic.Int64
	sampled                          atomic.Bool
	// journaled counts the frames the reader handed to the journal,
	// decoded those the decoder has handled: once decoded reaches a value
	// journaled had, everything read before is decoded.
	journaled, decoded atomic.Int64
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

// msgIDs remembers the msg_ids a room received recently (docs/protocol.md
// §10.3: the server may re-send a command it thinks was not acked; a
// p_msg_type 1 command whose id was seen is dropped). Bounded by
// msgIDMemory and msgIDMax. Used by the decoder only.
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
