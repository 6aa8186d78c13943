package livesim

import (
	"crypto/sha256"
	"slices"
	"sync"
)

// ConnLedger is what the simulator wrote to one connection, in order
// (Options.Ledger): every WebSocket message (raw TCP: every packet)
// whose write returned without error — auth reply, LOG_IN_NOTICE,
// heartbeat replies, command frames (corrupted ones as sent), re-sends.
// A write that failed is not listed, even if part of it reached the
// socket.
type ConnLedger struct {
	Remote string // the client's address, "ip:port"
	Room   int64  // the room id of the auth packet; 0 before it was read
	TCP    bool   // the raw TCP port, not a WebSocket
	Frames []LedgerFrame
}

// LedgerFrame is one message written: the SHA-256 of its exact bytes
// (a WebSocket message's payload) and its length.
type LedgerFrame struct {
	Sum [sha256.Size]byte
	Len int
}

// connLedger is a connection's ledger as it grows: its writer appends,
// Sim.Ledger copies.
type connLedger struct {
	mu sync.Mutex
	ConnLedger
}

func (l *connLedger) add(sum [sha256.Size]byte, n int) {
	l.mu.Lock()
	l.Frames = append(l.Frames, LedgerFrame{Sum: sum, Len: n})
	l.mu.Unlock()
}

func (l *connLedger) setRoom(id int64) {
	l.mu.Lock()
	l.Room = id
	l.mu.Unlock()
}

// Ledger returns, for every connection accepted so far (open or
// closed, in the order they were accepted), what the simulator wrote to
// it; nil unless Options.Ledger is set. The result is a copy. A frame
// shared by many connections is hashed once, so the ledger costs about
// one append per message written.
func (s *Sim) Ledger() []ConnLedger {
	s.ledgerMu.Lock()
	ls := slices.Clone(s.ledgers)
	s.ledgerMu.Unlock()
	var out []ConnLedger
	for _, l := range ls {
		l.mu.Lock()
		c := l.ConnLedger
		c.Frames = slices.Clone(l.Frames)
		l.mu.Unlock()
		out = append(out, c)
	}
	return out
}

// newLedger starts the ledger of a connection from remote, when the
// simulator keeps ledgers (nil otherwise).
func (s *Sim) newLedger(remote string, tcp bool) *connLedger {
	if !s.opts.Ledger {
		return nil
	}
	l := &connLedger{ConnLedger: ConnLedger{Remote: remote, TCP: tcp}}
	s.ledgerMu.Lock()
	s.ledgers = append(s.ledgers, l)
	s.ledgerMu.Unlock()
	return l
}

// digest is the SHA-256 of the frame's bytes, computed once however
// many connections it is written to.
func (f *frame) digest() [sha256.Size]byte {
	f.sumOnce.Do(func() { f.sum = sha256.Sum256(f.raw) })
	return f.sum
}
