package collector

import (
	"encoding/json"
	"hash/maphash"
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
// p_msg_type 1 command whose id was seen is dropped). It keeps 64-bit
// hashes of the ids in two generations: an id is remembered for at least
// msgIDMemory/2 and at most msgIDMemory (less in a room that receives
// more than msgIDMax/2 of them in msgIDMemory/2): about 20 bytes an id.
// A false match needs two ids of the same room and minutes to collide
// (about one in 10^14 at msgIDMax). Used by the decoder only.
type msgIDs struct {
	cur, prev map[uint64]struct{}
	since     int64 // when cur started, unix ms
}

const (
	// msgIDMemory: the simulator re-sends after 5 s, the captures show no
	// re-send later than seconds; two minutes is ample.
	msgIDMemory = 2 * time.Minute
	msgIDMax    = 8192
)

// msgIDSeed makes the hashes of this process's msgIDs.
var msgIDSeed = maphash.MakeSeed()

// seenBefore records id at now (unix ms) and reports whether it was
// already there.
func (r *msgIDs) seenBefore(id string, now int64) bool {
	h := maphash.String(msgIDSeed, id)
	if _, ok := r.cur[h]; ok {
		return true
	}
	if _, ok := r.prev[h]; ok {
		return true
	}
	if r.cur == nil || now-r.since >= msgIDMemory.Milliseconds()/2 || len(r.cur) >= msgIDMax/2 {
		// cur's ids came before since+msgIDMemory/2: past msgIDMemory
		// from since, all are at least msgIDMemory/2 old.
		stale := now-r.since >= msgIDMemory.Milliseconds()
		r.prev, r.cur, r.since = r.cur, make(map[uint64]struct{}, min(len(r.cur), 64)), now
		if stale {
			r.prev = nil
		}
	}
	r.cur[h] = struct{}{}
	return false
}
