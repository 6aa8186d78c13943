package protocol

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// InputError is one bad piece of input DecodeStream met: where it is
// ("line N" of hex input, "offset N" of a binary stream, "input" for a
// read error) and why.
type InputError struct {
	Where string
	Err   error
}

func (e *InputError) Error() string { return e.Where + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// DecodeStreamOptions configure DecodeStream.
type DecodeStreamOptions struct {
	// Hex: the input is one hex-encoded WebSocket message per line (blank
	// lines and lines starting with '#' skipped); otherwise it is
	// concatenated binary packets (StreamReader).
	Hex bool
	// RoomID is put in events whose message names no room (0 = none).
	RoomID int64
	// OnBad, when set, is called with each bad input, in order.
	OnBad func(*InputError)
}

// DecodeStream decodes captured packets from in and writes one canonical
// JSON object per event (AppendJSON), one per line, in order, to out. It
// returns how many bad inputs it met (each also reported to opts.OnBad):
// hex that does not decode, a *FrameError or *CommandError, an event that
// cannot be encoded, a read error. Events decoded before a bad input are
// written. Hex input goes on with the next line; a binary stream stops at
// its first bad packet, as it cannot be resynchronised. err is only a
// write error of out, which ends the decoding. It blocks until in ends;
// out should be buffered.
func DecodeStream(in io.Reader, out io.Writer, opts DecodeStreamOptions) (bad int, err error) {
	d := streamDecoder{out: out, opts: opts}
	if opts.Hex {
		err = d.hexLines(in)
	} else {
		err = d.packets(in)
	}
	return d.bad, err
}

// streamDecoder is one DecodeStream call's state.
type streamDecoder struct {
	out    io.Writer
	opts   DecodeStreamOptions
	fd     FrameDecoder
	events []Event
	line   []byte
	bad    int
}

func (d *streamDecoder) report(where string, err error) {
	d.bad++
	if d.opts.OnBad != nil {
		d.opts.OnBad(&InputError{Where: where, Err: err})
	}
}

// message decodes one message and writes its events.
func (d *streamDecoder) message(where string, msg []byte) error {
	var errs []error
	d.events, errs = d.fd.DecodeMessage(d.events[:0], msg, d.opts.RoomID)
	for _, e := range d.events {
		var err error
		if d.line, err = AppendJSON(d.line[:0], e); err != nil {
			d.report(where, fmt.Errorf("cannot encode event: %w", err))
			continue
		}
		d.line = append(d.line, '\n')
		if _, err := d.out.Write(d.line); err != nil {
			return err
		}
	}
	for _, err := range errs {
		d.report(where, err)
	}
	return nil
}

func (d *streamDecoder) hexLines(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 2*MaxPacketLen+2)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		where := fmt.Sprintf("line %d", n)
		msg := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(msg, text); err != nil {
			d.report(where, fmt.Errorf("bad hex: %w", err))
			continue
		}
		if err := d.message(where, msg); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		d.report("input", err)
	}
	return nil
}

func (d *streamDecoder) packets(in io.Reader) error {
	sr := NewStreamReader(in)
	for {
		msg, off, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		where := fmt.Sprintf("offset %d", off)
		if err != nil {
			d.report(where, err)
			return nil
		}
		if err := d.message(where, msg); err != nil {
			return err
		}
	}
}
