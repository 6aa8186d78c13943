package livesim_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/protocol"
)

// TestLedger: with Options.Ledger, the messages a client reads are,
// one for one and in order, the start of its connection's ledger
// (SHA-256 and length of each), under the client's address and the
// room it authenticated to; the auth reply, LOG_IN_NOTICE, a heartbeat
// reply and corrupted frames are in it as sent. Without the option
// there is no ledger.
func TestLedger(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 400, Tick: 20 * time.Millisecond, Corrupt: 0.3, Ledger: true})
	c := newClient(t, s)
	buvid := c.bootstrap()
	room := s.RoomIDs()[0]
	w := dial(t, s)
	w.sendAuth(0, room, 3, c.token(room), buvid)
	var got []livesim.LedgerFrame
	var replies, corrupt int
	for len(got) < 60 {
		msg, err := w.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, livesim.LedgerFrame{Sum: sha256.Sum256(msg), Len: len(msg)})
		switch h, err := protocol.ParseHeader(msg); {
		case err != nil || int(h.PacketLen) != len(msg) && h.Op != protocol.OpHeartbeatReply:
			corrupt++
		case h.Op == protocol.OpHeartbeatReply:
			replies++
		}
		if len(got) == 10 {
			w.heartbeat("[object Object]")
		}
	}
	if replies != 1 || corrupt == 0 {
		t.Fatalf("read %d heartbeat replies and %d corrupted frames; want 1 and some", replies, corrupt)
	}
	local := w.ws.LocalAddr().String()
	var mine livesim.ConnLedger
	// A message's entry is added once its write has returned, which may
	// be after the client read it.
	testkit.Poll(t, 5*time.Second, "the ledger to list what was read", func() bool {
		for _, l := range s.Ledger() {
			if l.Remote == local {
				mine = l
			}
		}
		return len(mine.Frames) >= len(got)
	})
	if mine.Room != room || mine.TCP {
		t.Errorf("ledger of %s: room %d, TCP %v; want room %d over WebSocket", local, mine.Room, mine.TCP, room)
	}
	for i, f := range got {
		if mine.Frames[i] != f {
			t.Fatalf("message %d: read %x (%d bytes), ledger has %x (%d bytes)", i, f.Sum[:6], f.Len, mine.Frames[i].Sum[:6], mine.Frames[i].Len)
		}
	}
	if l := newSim(t, livesim.Options{Rooms: 1}).Ledger(); l != nil {
		t.Errorf("a simulator without Options.Ledger has a ledger: %v", l)
	}
}
