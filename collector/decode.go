package collector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// The decode stage. A connection's reader only journals what it reads
// (frames, and marks with the connection's record); the decoder reads
// the journal in order, turns each frame into records (events after
// msg_id dedup, raw bodies with Raw, malformed input), sends the acks
// commands ask for, feeds the coverage watchdog's seen set, and hands
// each frame's records to the writer together with the journal position
// after it (storage.Decoded), so that they are committed with it. Frames
// of another run (replayed after a crash) are decoded without their
// connection: no acks, no coverage, no connection counts.

// connCtx is what the decoder knows of one connection of this run; its
// worker registers it before the connection's first frame is journaled.
type connCtx struct {
	st   *connState
	seen *seenSet // the room's coverage keys
	ids  *msgIDs  // the room's msg_ids (the worker's, decoder-only)
	ack  acker    // nil: no acks
}

// decoder is the decode stage's state: one goroutine (Collector.Decode)
// owns all of it but conns, which workers register into.
type decoder struct {
	c      *Collector
	mu     sync.Mutex
	conns  map[uint32]*connCtx
	fd     protocol.FrameDecoder
	evs    []protocol.Event
	recs   []storage.Record // the frame being decoded's records
	replay map[int64]*msgIDs
}

func newDecoder(c *Collector) *decoder {
	return &decoder{c: c, conns: map[uint32]*connCtx{}, replay: map[int64]*msgIDs{}}
}

func (d *decoder) register(seq uint32, cc *connCtx) {
	d.mu.Lock()
	d.conns[seq] = cc
	d.mu.Unlock()
}

// errHardStop: the writer is gone (the hard stop); decoding ends.
var errHardStop = errors.New("hard stop")

// Decode runs the decode stage from the journal position from (the one
// the database last committed; zero: the first frame on disk) until the
// journal is closed and read to its end (nil), or until ctx or
// Config.Hard ends (its error; what is not decoded stays in the journal
// for the next run). Run it on one goroutine, concurrently with Run.
func (c *Collector) Decode(ctx context.Context, from journal.Pos) error {
	j := c.cfg.Journal
	r := j.NewReader(from)
	defer r.Close()
	for {
		rec, at, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var recs []storage.Record
		switch rec.Kind {
		case journal.KindFrame:
			recs = c.dec.frame(rec)
		case journal.KindMark:
			recs = c.dec.mark(rec)
		}
		cp := storage.Checkpoint{JournalID: j.ID(), Seg: at.Seg, Off: at.Off}
		if !c.send(storage.Decoded{Records: recs, At: cp, RecvMs: rec.RecvMs}) {
			return errHardStop
		}
	}
}

// ctx is rec's connection, or nil for a frame of another run.
func (d *decoder) ctx(rec *journal.Record) *connCtx {
	if rec.Run != d.c.cfg.RunID {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[rec.Conn]
}

// frame decodes one frame into records.
func (d *decoder) frame(rec *journal.Record) []storage.Record {
	obs := d.c.cfg.Observer
	cc := d.ctx(rec)
	ids := d.replay[rec.Room]
	if cc != nil {
		ids = cc.ids
	} else if ids == nil {
		ids = &msgIDs{}
		d.replay[rec.Room] = ids
	}
	d.recs = nil // handed to the writer with this frame
	room, now := rec.Room, rec.RecvMs
	ferr := d.fd.Packets.DecodeMessage(rec.Data, func(p *protocol.Packet) error {
		var cerr error
		d.evs, cerr = d.fd.PacketEvents(d.evs[:0], p, room)
		if cerr != nil {
			var ce *protocol.CommandError
			body := p.Body
			if errors.As(cerr, &ce) {
				body = ce.Body
			}
			d.malformed(cc, room, now, cerr, body)
			return nil
		}
		if len(d.evs) == 0 {
			return nil
		}
		b := d.evs[0].Common()
		if cc != nil && b.PIsAck && cc.ack != nil && len(b.MsgIDRaw) > 0 && cc.ack.Ack(b.MsgIDRaw, b.Cmd, b.PMsgType) {
			cc.st.acks.Add(1)
			obs.Ack()
		}
		if b.MsgID != "" && b.PMsgType == 1 && ids.seenBefore(b.MsgID, now) {
			obs.Resent()
			return nil
		}
		if d.c.cfg.Raw && p.Op == protocol.OpMessage {
			d.recs = append(d.recs, storage.Raw{RoomID: room, RecvMs: now, Cmd: b.Cmd, Body: append([]byte(nil), p.Body...)})
		}
		d.events(cc, now)
		return nil
	})
	if ferr != nil {
		d.malformed(cc, room, now, ferr, rec.Data)
	}
	if cc != nil {
		cc.st.decoded.Add(1)
	}
	d.c.board.frame(rec.Room, rec.RecvMs, d.recs)
	return d.recs
}

// events adds the decoded events d.evs (of one packet) to the frame's
// records.
func (d *decoder) events(cc *connCtx, now int64) {
	obs := d.c.cfg.Observer
	for _, e := range d.evs {
		if dm, ok := e.(*protocol.Danmaku); ok && cc != nil {
			cc.seen.add(checkKey(dm.CheckTs, dm.CheckCt), now)
		}
		if _, ok := e.(*protocol.Control); ok {
			continue
		}
		d.recs = append(d.recs, storage.Event{E: e, RecvMs: now})
		if cc != nil {
			cc.st.events.Add(1)
		}
		obs.Event(string(e.Common().Kind))
		if _, ok := e.(*protocol.Other); ok {
			obs.UnknownCommand() // as stored in unknown_commands
		}
	}
}

func (d *decoder) malformed(cc *connCtx, room, now int64, reason error, body []byte) {
	if cc != nil {
		cc.st.bad.Add(1)
	}
	d.c.cfg.Observer.BadFrame()
	d.recs = append(d.recs, storage.Malformed{RoomID: room, RecvMs: now, Reason: reason.Error(), Body: append([]byte(nil), body...)})
}

// mark turns a connection mark into its connections row: the record its
// worker journaled, with the decoder's counts for a connection of this
// run. A mark with an end forgets the connection.
func (d *decoder) mark(rec *journal.Record) []storage.Record {
	var r storage.Conn
	if err := json.Unmarshal(rec.Data, &r); err != nil {
		d.c.cfg.Logger.Error("journal: an unreadable connection mark; skipped", "room_id", rec.Room, "err", err)
		return nil
	}
	if rec.Run != d.c.cfg.RunID {
		r.RunID = rec.Run
		return []storage.Record{r}
	}
	d.mu.Lock()
	cc := d.conns[rec.Conn]
	if r.EndedMs != 0 {
		delete(d.conns, rec.Conn)
	}
	d.mu.Unlock()
	if cc != nil {
		r.Events, r.Bad, r.Acks = cc.st.events.Load(), cc.st.bad.Load(), cc.st.acks.Load()
	}
	return []storage.Record{r}
}

// journalConn journals st's record as a mark (at auth, on a coverage
// update, at the end): it reaches the writer in order with the
// connection's frames. It never blocks.
func (c *Collector) journalConn(r storage.Conn) {
	data, _ := json.Marshal(r)
	_ = c.cfg.Journal.Append(&journal.Record{Kind: journal.KindMark, Conn: uint32(r.Seq), Room: r.RoomID,
		RecvMs: time.Now().UnixMilli(), Data: data})
}
