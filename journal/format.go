package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Kind says what a record holds.
type Kind uint8

const (
	// KindFrame is a WebSocket message as received from the server.
	KindFrame Kind = 1
	// KindMark is a marker a connection's owner writes (its start, its
	// end): the data is the owner's own encoding.
	KindMark Kind = 2
)

// Record is one journal entry.
type Record struct {
	Kind Kind
	// Run is the run id of the segment the record was read from (set by
	// Reader; ignored by Append, which writes the journal's own run).
	Run    int64
	Conn   uint32 // the connection's number within its run
	Room   int64
	RecvMs int64 // when it was received, unix ms
	// Data is the frame as received (owned by the caller of Append; a
	// Reader's Data is valid until its next call to Next).
	Data []byte
}

// Pos is a position in the journal: a segment and an offset in it. The
// zero Pos is before everything.
type Pos struct {
	Seg uint64
	Off int64
}

// Less reports whether p is before q.
func (p Pos) Less(q Pos) bool { return p.Seg < q.Seg || (p.Seg == q.Seg && p.Off < q.Off) }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Seg, p.Off) }

const (
	segMagic      = "DMKJRNL1"
	segHeaderLen  = 32
	recHeaderLen  = 32
	maxRecordData = 64 << 20 // far above a frame (protocol.MaxMessageLen)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks the end of the valid records of a segment: a record cut
// short or failing its CRC (a crash mid-write, or damage).
var errTorn = errors.New("journal: torn or damaged record")

// appendRecord appends r's encoding to dst.
func appendRecord(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recHeaderLen)...)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(r.Data)))
	h[8] = byte(r.Kind)
	binary.LittleEndian.PutUint32(h[12:], r.Conn)
	binary.LittleEndian.PutUint64(h[16:], uint64(r.Room))
	binary.LittleEndian.PutUint64(h[24:], uint64(r.RecvMs))
	dst = append(dst, r.Data...)
	crc := crc32.Update(crc32.Checksum(dst[start+8:start+recHeaderLen], crcTable), crcTable, dst[start+recHeaderLen:])
	binary.LittleEndian.PutUint32(dst[start+4:], crc)
	return dst
}

// recordLen is the encoded size of a record with n bytes of data.
func recordLen(n int) int64 { return recHeaderLen + int64(n) }

// parseHeader reads a record header; n is its data length.
func parseHeader(h []byte, r *Record) (n int, crc uint32, err error) {
	n = int(binary.LittleEndian.Uint32(h[0:]))
	crc = binary.LittleEndian.Uint32(h[4:])
	if n > maxRecordData || h[9] != 0 || h[10] != 0 || h[11] != 0 {
		return 0, 0, errTorn
	}
	r.Kind = Kind(h[8])
	r.Conn = binary.LittleEndian.Uint32(h[12:])
	r.Room = int64(binary.LittleEndian.Uint64(h[16:]))
	r.RecvMs = int64(binary.LittleEndian.Uint64(h[24:]))
	if r.Kind != KindFrame && r.Kind != KindMark {
		return 0, 0, errTorn
	}
	return n, crc, nil
}

// checkCRC verifies a record's header (h) and data against crc.
func checkCRC(h, data []byte, crc uint32) bool {
	return crc32.Update(crc32.Checksum(h[8:recHeaderLen], crcTable), crcTable, data) == crc
}

// segHeader is a segment file's header.
type segHeader struct {
	journalID uint64
	seg       uint64
	run       int64
}

func (s segHeader) encode() []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic)
	binary.LittleEndian.PutUint64(b[8:], s.journalID)
	binary.LittleEndian.PutUint64(b[16:], s.seg)
	binary.LittleEndian.PutUint64(b[24:], uint64(s.run))
	return b
}

func parseSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderLen || string(b[:8]) != segMagic {
		return segHeader{}, errors.New("not a journal segment (bad magic)")
	}
	return segHeader{journalID: binary.LittleEndian.Uint64(b[8:]), seg: binary.LittleEndian.Uint64(b[16:]),
		run: int64(binary.LittleEndian.Uint64(b[24:]))}, nil
}

func segName(seg uint64) string { return fmt.Sprintf("%016x.seg", seg) }
