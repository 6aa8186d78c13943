// Package protocol implements the WebSocket side of Bilibili's live danmaku
// service: the 16-byte packet framing with its compressed bundles, decoding
// of command JSON into typed events with one canonical JSON form, and the
// client session (dial, auth, reader and heartbeat loops).
//
// The facts it follows are in the project's docs/protocol.md (§1 framing, §2
// connection flow, §5 commands). Nothing here talks HTTP; tokens and host
// lists come from the caller.
package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the length of every packet header written by either side.
// Readers honour the header-length field of incoming packets instead.
const HeaderLen = 16

// Protocol versions (header offset 6): how the body is encoded.
const (
	VerJSON   uint16 = 0 // plain JSON command
	VerInt    uint16 = 1 // heartbeat/auth class (op 2, 3, 7, 8)
	VerZlib   uint16 = 2 // zlib stream holding complete packets
	VerBrotli uint16 = 3 // brotli stream holding complete packets
)

// Operations (header offset 8) seen on the live socket.
const (
	OpHeartbeat      uint32 = 2  // client → server
	OpHeartbeatReply uint32 = 3  // server → client: uint32 popularity (+ echo)
	OpMessage        uint32 = 5  // server → client: command JSON or bundle
	OpAuth           uint32 = 7  // client → server: auth JSON
	OpAuthReply      uint32 = 8  // server → client: {"code":0}
	OpAck            uint32 = 24 // client → server: message ack (docs/protocol.md §10.3, Session.Ack)
)

// Bounds. A peer that exceeds them gets a *FrameError, never a panic or an
// unbounded allocation.
const (
	// MaxPacketLen is the largest packet length field accepted (header
	// included): 4 MiB. Real outer packets are a few KiB; the largest
	// bundles of the busiest rooms stay well under 1 MiB.
	MaxPacketLen = 4 << 20
	// MaxInflatedLen is the most bytes one compressed body may inflate to,
	// summed over nested bundles: 16 MiB (a bundle of ~10,000 danmaku).
	// Anything larger is treated as a decompression bomb.
	MaxInflatedLen = 16 << 20
	// MaxNesting is how deep bundles may nest inside bundles. Bilibili
	// nests one level; two more are tolerated.
	MaxNesting = 3
)

// Header is the fixed 16-byte packet header. All integers are big-endian.
type Header struct {
	PacketLen uint32 // header length + body length
	HeaderLen uint16 // always 16 on the wire so far; honoured when larger
	Ver       uint16
	Op        uint32
	Seq       uint32
}

// Packet is one decoded packet. Body aliases the decoder's buffers and is
// valid only until the next call on the same Decoder; copy it to keep it.
type Packet struct {
	Header
	Body []byte
	// Echo holds bytes that followed a heartbeat reply in the same
	// WebSocket message without being counted in its length field: the
	// server echoes the client's heartbeat body there (docs/protocol.md §1.5.3).
	Echo []byte
	// Offset is the packet's byte offset in the top-level input; packets
	// from inside a bundle carry the offset of their outer packet.
	Offset int
}

// Popularity returns the uint32 a heartbeat reply carries (always 1 on the
// real service since 2023-09), and false when p is not a heartbeat reply
// or its body is shorter than 4 bytes.
func (p *Packet) Popularity() (uint32, bool) {
	if p.Op != OpHeartbeatReply || len(p.Body) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(p.Body), true
}

// Sentinel reasons carried by *FrameError; test with errors.Is.
var (
	ErrShortPacket     = errors.New("packet shorter than its header")
	ErrTruncated       = errors.New("packet length exceeds the bytes available")
	ErrBadHeaderLen    = errors.New("header length field out of range")
	ErrPacketTooLarge  = errors.New("packet length exceeds the maximum")
	ErrInflateTooLarge = errors.New("bundle inflates past the maximum (decompression bomb?)")
	ErrBadCompression  = errors.New("compressed body is corrupt")
	ErrNestingTooDeep  = errors.New("bundles nested too deeply")
)

// FrameError reports undecodable framing: where it happened and why.
// Reason is one of the Err* sentinels above; Cause, when set, is the
// underlying library error (for example from the brotli reader).
type FrameError struct {
	Offset int   // byte offset of the offending packet in the top-level input
	Reason error // one of the Err* sentinels
	Cause  error // optional underlying error
}

func (e *FrameError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("protocol: offset %d: %v: %v", e.Offset, e.Reason, e.Cause)
	}
	return fmt.Sprintf("protocol: offset %d: %v", e.Offset, e.Reason)
}

// Unwrap lets errors.Is match both the reason and the cause.
func (e *FrameError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Reason, e.Cause}
	}
	return []error{e.Reason}
}

// ParseHeader reads the 16-byte header at the start of b and checks its
// length fields against len(b) limits. It does not require the body to be
// present; see Decoder for that.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShortPacket
	}
	h := Header{
		PacketLen: binary.BigEndian.Uint32(b[0:4]),
		HeaderLen: binary.BigEndian.Uint16(b[4:6]),
		Ver:       binary.BigEndian.Uint16(b[6:8]),
		Op:        binary.BigEndian.Uint32(b[8:12]),
		Seq:       binary.BigEndian.Uint32(b[12:16]),
	}
	switch {
	case h.PacketLen < HeaderLen:
		return h, ErrShortPacket
	case h.PacketLen > MaxPacketLen:
		return h, ErrPacketTooLarge
	case h.HeaderLen < HeaderLen || uint32(h.HeaderLen) > h.PacketLen:
		return h, ErrBadHeaderLen
	}
	return h, nil
}

// AppendPacket appends one encoded packet (16-byte header, then body) to dst
// and returns the extended slice.
func AppendPacket(dst []byte, ver uint16, op, seq uint32, body []byte) []byte {
	var h [HeaderLen]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(HeaderLen+len(body)))
	binary.BigEndian.PutUint16(h[4:6], HeaderLen)
	binary.BigEndian.PutUint16(h[6:8], ver)
	binary.BigEndian.PutUint32(h[8:12], op)
	binary.BigEndian.PutUint32(h[12:16], seq)
	dst = append(dst, h[:]...)
	return append(dst, body...)
}

// EncodePacket returns one encoded packet.
func EncodePacket(ver uint16, op, seq uint32, body []byte) []byte {
	return AppendPacket(make([]byte, 0, HeaderLen+len(body)), ver, op, seq, body)
}
