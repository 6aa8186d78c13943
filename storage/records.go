package storage

import (
	"encoding/hex"
	"hash/crc32"
	"hash/fnv"
	"strconv"

	"github.com/danmakud/danmakud/protocol"
)

// The records the writer stores, and the keys their rows are known by.
// Each table of the registry turns a record into its row with its one
// row function (Table.Row), which any sink reuses.

// Record is anything the writer stores. The concrete types are Decoded,
// Event, Conn, Snapshot, RoomMeta, Raw and Malformed.
type Record interface{ roomKey() int64 }

// Event is a decoded event and when it was received (unix ms).
type Event struct {
	E      protocol.Event
	RecvMs int64
}

// Conn is the state of one connection; the latest record for (run, seq)
// wins, so a worker sends one at auth and one at the end.
type Conn struct {
	// RunID is the run the connection belongs to; 0: the writer's run
	// (a journal replayed after a crash carries the earlier run's).
	RunID                        int64
	Seq                          int64
	RoomID                       int64
	Host                         string
	StartedMs, AuthedMs, EndedMs int64 // 0 = not (yet)
	EndReason                    string
	Frames, Events, Bytes, Bad   int64
	// UID is the uid the auth packet carried; 0 = anonymous.
	UID       int64
	Anonymous bool
	// Sampled: the connection is known to receive a sample (anonymous,
	// over an account's room budget, or a lapsed login).
	Sampled bool
	// HistSeen is how many room-history danmaku the coverage check judged
	// during this connection; HistArrived how many of those arrived.
	HistSeen, HistArrived int64
	Acks                  int64 // op-24 acks sent
}

// Snapshot is one room in one discovery round.
type Snapshot struct {
	Round          int
	AtMs           int64
	RoomID         int64
	Rank           int
	Online         int64
	Watched        int64
	Desired, Fixed bool
	Absent         int
}

// RoomMeta is what the lists or room_init said about a room.
type RoomMeta struct {
	RoomID, ShortID, AnchorUID int64
	AnchorName, Title          string
	AreaID                     int64
	AreaName                   string
	ParentAreaID               int64
	ParentAreaName             string
	SeenMs                     int64
}

// Raw is one command body exactly as received (collect --raw), so a
// later parser can re-derive every table.
type Raw struct {
	RoomID, RecvMs int64
	Cmd            string
	Body           []byte
}

// Malformed is input that could not be decoded: kept, never dropped.
type Malformed struct {
	RoomID, RecvMs int64
	Reason         string
	Body           []byte
}

// Decoded is what one journal frame gave: its records and the journal
// position just after it. The writer stores the records and, in the same
// transaction, the position (journal_position), so that a frame's rows
// are committed together with the position that says they are: after a
// crash the journal is replayed from exactly there.
type Decoded struct {
	Records []Record
	At      Checkpoint
	// RecvMs is when the frame (or mark) was read, unix ms: a rotating
	// run stores it in the file of that time's period.
	RecvMs int64
}

// Checkpoint is a position in the frame journal (see package journal).
type Checkpoint struct {
	JournalID uint64
	Seg       uint64
	Off       int64
}

func (e Event) roomKey() int64     { return e.E.Common().RoomID }
func (c Conn) roomKey() int64      { return c.RoomID }
func (s Snapshot) roomKey() int64  { return s.RoomID }
func (r RoomMeta) roomKey() int64  { return r.RoomID }
func (m Malformed) roomKey() int64 { return m.RoomID }
func (r Raw) roomKey() int64       { return r.RoomID }
func (Decoded) roomKey() int64     { return 0 }

// DedupHash is the 64-bit dedup code of a key string (DanmakuKey,
// GiftKey): FNV-1a 64 over its UTF-8 bytes, read as a two's-complement
// int64. The unique index holds it instead of the string; the string is
// kept once in the row. Two different keys of one room share a code with
// probability about n²/2⁶⁵ for n keys: 2.7·10⁻⁶ for a room with ten
// million messages.
func DedupHash(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// DanmakuKey is the danmaku's dedup key: its id_str, or for messages
// without one (before 2023) a digest of what identifies it.
func DanmakuKey(d *protocol.Danmaku) string {
	if d.IDStr != "" {
		return d.IDStr
	}
	return "x:" + strconv.FormatInt(d.TsMs, 10) + ":" + d.MidHash + ":" + strconv.FormatInt(d.Rnd, 10) + ":" +
		strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(d.Text))), 16)
}

// GiftKey is a gift's dedup key: its tid, which SEND_GIFT and SEND_GIFT_V2
// share, or a digest when a message has none.
func GiftKey(g *protocol.Gift) string {
	if g.TID != "" {
		return g.TID
	}
	return "x:" + strconv.FormatInt(g.UID, 10) + ":" + strconv.FormatInt(g.GiftID, 10) + ":" + strconv.FormatInt(g.TsMs, 10) + ":" + strconv.FormatInt(g.Num, 10)
}

// InteractKey is an interaction's dedup key as export shows it:
// `<trigger_time_ns>:<msg_type>` (the trigger time is unique per room).
// Like clicks carry no id or time; they get NULL (nil), which a unique
// index does not constrain (see the README). The table stores its parts,
// trigger_ns and msg_type.
func InteractKey(e *protocol.Interact) any {
	if e.TriggerTimeNs == 0 {
		return nil
	}
	return strconv.FormatInt(e.TriggerTimeNs, 10) + ":" + strconv.FormatInt(e.MsgType, 10)
}

// packHex stores lowercase hex text (a message id, a mid hash) in about
// half the bytes: a BLOB of one flag byte (1: the text has an odd number
// of digits and a 0 was put before them) and the digits' bytes. Other
// text (empty, upper case, not hex) stays the text it is. unhexSQL reads
// either back as the text.
func packHex(s string) any {
	if s == "" {
		return s
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return s
		}
	}
	odd := len(s) % 2
	b := make([]byte, 1+(len(s)+odd)/2)
	b[0] = byte(odd)
	digits := s
	if odd == 1 {
		digits = "0" + s
	}
	hex.Decode(b[1:], []byte(digits)) // cannot fail: checked above
	return b
}

// unhexSQL is the SQL that reads a column packHex wrote as the text.
func unhexSQL(col string) string {
	return "CASE WHEN typeof(" + col + ") = 'blob' THEN substr(lower(hex(" + col + ")), CASE WHEN substr(" + col +
		", 1, 1) = x'01' THEN 4 ELSE 3 END) ELSE " + col + " END"
}

// keptKey is the key text a row stores beside its id column: nil when
// the key is the id itself (the row has it once, as the id), else the
// key.
func keptKey(key, id string) any {
	if key == id {
		return nil
	}
	return key
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// nullZero is v, or nil (NULL) when it is 0.
func nullZero(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
