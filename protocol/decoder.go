package protocol

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"io"

	"github.com/andybalholm/brotli"
)

// Decoder turns WebSocket messages into packets, inflating zlib (ver 2) and
// brotli (ver 3) bundles with decompressors it keeps and resets across
// messages (a fresh brotli reader per frame costs ~2.5× the CPU).
//
// A Decoder is not safe for concurrent use: give each connection its own.
// The zero value is ready to use.
type Decoder struct {
	src  bytes.Reader
	br   *brotli.Reader
	zr   io.ReadCloser // implements zlib.Resetter once created
	bufs [MaxNesting][]byte
	left int // inflate budget remaining for the current top-level message
}

// DecodeMessage decodes one WebSocket binary message: one or more
// top-level packets, bundles expanded depth-first, and calls fn for every
// leaf packet in wire order. A heartbeat reply's uncounted echo is attached
// to its packet (Packet.Echo) instead of being read as a packet.
//
// The *Packet and its slices are only valid during the call to fn. If fn
// returns an error, decoding stops and that error is returned as is. A
// framing problem returns a *FrameError after fn has seen every packet
// before the bad one, so nothing decodable is lost.
func (d *Decoder) DecodeMessage(msg []byte, fn func(*Packet) error) error {
	d.left = MaxInflatedLen
	return d.walk(msg, 0, 0, fn)
}

// walk decodes the concatenated packets in b. base is the offset of b in
// the top-level input (for inner packets: the outer packet's offset).
func (d *Decoder) walk(b []byte, depth, base int, fn func(*Packet) error) error {
	off := 0
	for off < len(b) {
		at := base
		if depth == 0 {
			at = base + off
		}
		h, err := ParseHeader(b[off:])
		if err != nil {
			return &FrameError{Offset: at, Reason: err}
		}
		end := off + int(h.PacketLen)
		if end > len(b) {
			return &FrameError{Offset: at, Reason: ErrTruncated}
		}
		p := Packet{Header: h, Body: b[off+int(h.HeaderLen) : end], Offset: at}
		off = end
		if h.Op == OpHeartbeatReply && depth == 0 {
			n := echoLen(b[off:])
			p.Echo = b[off : off+n]
			off += n
		}
		if (h.Ver == VerZlib || h.Ver == VerBrotli) && h.Op == OpMessage {
			if depth+1 >= MaxNesting {
				return &FrameError{Offset: at, Reason: ErrNestingTooDeep}
			}
			inner, err := d.inflate(h.Ver, p.Body, depth)
			if err != nil {
				var ie inflateError
				if errors.As(err, &ie) {
					return &FrameError{Offset: at, Reason: ErrBadCompression, Cause: ie.cause}
				}
				return &FrameError{Offset: at, Reason: err}
			}
			if err := d.walk(inner, depth+1, at, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

// plausible reports whether b starts with a header that a real server
// would send: valid lengths, a known version, and a packet that fits in b.
func plausible(b []byte) bool {
	h, err := ParseHeader(b)
	return err == nil && h.Ver <= VerBrotli && int(h.PacketLen) <= len(b)
}

// echoLen returns how many bytes after a heartbeat reply in the same
// WebSocket message belong to its echo: all of them, unless a plausible
// packet follows (no capture shows that, but decoders allow it).
func echoLen(rest []byte) int {
	if len(rest) == 0 || plausible(rest) {
		return 0
	}
	return len(rest)
}

// maxEcho bounds the heartbeat echo searched for in a byte stream. Client
// heartbeat bodies in use are empty, "{}" or "[object Object]".
const maxEcho = 256

// inflateError wraps a library error as ErrBadCompression while keeping it
// reachable through errors.Unwrap.
type inflateError struct{ cause error }

func (e inflateError) Error() string   { return ErrBadCompression.Error() + ": " + e.cause.Error() }
func (e inflateError) Is(t error) bool { return t == ErrBadCompression }
func (e inflateError) Unwrap() error   { return e.cause }

// inflate decompresses body into the buffer reserved for depth, charging
// the per-message budget. The returned slice is valid until the next
// inflate at the same depth.
func (d *Decoder) inflate(ver uint16, body []byte, depth int) ([]byte, error) {
	d.src.Reset(body)
	var r io.Reader
	switch ver {
	case VerBrotli:
		if d.br == nil {
			d.br = brotli.NewReader(&d.src)
		} else if err := d.br.Reset(&d.src); err != nil {
			return nil, inflateError{err}
		}
		r = d.br
	case VerZlib:
		if d.zr == nil {
			zr, err := zlib.NewReader(&d.src)
			if err != nil {
				return nil, inflateError{err}
			}
			d.zr = zr
		} else if err := d.zr.(zlib.Resetter).Reset(&d.src, nil); err != nil {
			return nil, inflateError{err}
		}
		r = d.zr
	}
	buf, err := readLimited(r, d.bufs[depth][:0], d.left)
	d.bufs[depth] = buf[:0]
	if err != nil {
		if errors.Is(err, ErrInflateTooLarge) {
			return nil, ErrInflateTooLarge
		}
		return nil, inflateError{err}
	}
	d.left -= len(buf)
	return buf, nil
}

// readLimited reads r to EOF into buf, failing with ErrInflateTooLarge
// once more than limit bytes arrive. It never holds more than limit+1
// bytes beyond buf's existing capacity growth.
func readLimited(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf, ErrInflateTooLarge
			}
			grow := max(cap(buf), 4096)
			grow = min(grow, limit+1-len(buf))
			if grow <= 0 {
				grow = 1
			}
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, ErrInflateTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// StreamReader splits a byte stream of concatenated top-level packets (a
// raw TCP capture, or WebSocket messages written back to back) into
// messages that DecodeMessage accepts. A heartbeat reply keeps its
// uncounted echo: the bytes up to the next plausible header.
//
// It holds at most one packet (≤ MaxPacketLen) in memory. Not safe for
// concurrent use.
type StreamReader struct {
	r   *bufio.Reader
	off int
	buf []byte
}

// NewStreamReader returns a StreamReader reading from r.
func NewStreamReader(r io.Reader) *StreamReader {
	return &StreamReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next top-level packet (with its echo, if any) and its
// byte offset in the stream. It returns io.EOF at a clean end. A bad
// header or a packet cut short returns a *FrameError; the stream cannot
// be resynchronised after that. The returned slice is valid until the
// next call.
func (s *StreamReader) Next() ([]byte, int, error) {
	at := s.off
	hdr, err := s.r.Peek(HeaderLen)
	if err != nil {
		if err == io.EOF && len(hdr) == 0 {
			return nil, at, io.EOF
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, at, &FrameError{Offset: at, Reason: ErrShortPacket}
		}
		return nil, at, err
	}
	h, herr := ParseHeader(hdr)
	if herr != nil {
		return nil, at, &FrameError{Offset: at, Reason: herr}
	}
	n := int(h.PacketLen)
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, at, &FrameError{Offset: at, Reason: ErrTruncated}
		}
		return nil, at, err
	}
	if h.Op == OpHeartbeatReply {
		peek, _ := s.r.Peek(maxEcho + HeaderLen)
		if e := echoLenStream(peek); e > 0 {
			s.buf = append(s.buf, peek[:e]...)
			_, _ = s.r.Discard(e)
		}
	}
	s.off += len(s.buf)
	return s.buf, at, nil
}

// echoLenStream finds the echo at the start of peek: bytes before the next
// header whose lengths and version look real. Unlike plausible it cannot
// require the whole next packet to be buffered.
func echoLenStream(peek []byte) int {
	looksLikeHeader := func(b []byte) bool {
		h, err := ParseHeader(b)
		return err == nil && h.Ver <= VerBrotli
	}
	if len(peek) == 0 || looksLikeHeader(peek) {
		return 0
	}
	for i := 1; i < len(peek) && i <= maxEcho; i++ {
		if looksLikeHeader(peek[i:]) {
			return i
		}
	}
	if len(peek) < HeaderLen+maxEcho {
		return len(peek) // end of stream: the rest is the echo
	}
	return maxEcho
}
