package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/danmakud/danmakud/protocol"
	"github.com/spf13/cobra"
)

type decodeOptions struct {
	hex    bool
	roomID int64
}

func newDecodeCmd() *cobra.Command {
	var o decodeOptions
	cmd := &cobra.Command{
		Use:   "decode [--hex] [FILE]",
		Short: "Decode captured packets into one canonical JSON event per line",
		Long: `Decode reads captured Bilibili live packets and prints one canonical JSON
object per event, per line, in order.

Input (FILE, or standard input when no FILE is given) is concatenated binary
packets, or with --hex one hex-encoded packet (one WebSocket message) per
line. A bad packet is reported on stderr with its line or byte offset and
the reason; with --hex decoding goes on with the next line. The exit status
is 3 if any input was bad.`,
		Example: `  danmakud decode --hex testdata/samples/frames/zlib_danmu_1.hex     # a captured zlib bundle
  cat testdata/samples/frames/*.hex | danmakud decode --hex --room 21452505
  danmakud decode capture.bin > events.jsonl                           # raw packets, concatenated`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return &exitError{exitFailure, err}
				}
				defer f.Close()
				in = f
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			bad, err := o.run(in, out, cmd.ErrOrStderr())
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = ferr
			}
			if err != nil {
				return &exitError{exitFailure, err}
			}
			if bad > 0 {
				return &exitError{exitBadInput, fmt.Errorf("decode: %d bad input(s)", bad)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.hex, "hex", false, "input is one hex-encoded packet (WebSocket message) per line")
	cmd.Flags().Int64Var(&o.roomID, "room", 0, "room id to put in events whose message does not name one")
	return cmd
}

// run decodes in to out and reports bad input on errw. It returns the
// number of bad inputs; err is only for output failures.
func (o *decodeOptions) run(in io.Reader, out io.Writer, errw io.Writer) (bad int, err error) {
	var fd protocol.FrameDecoder
	var events []protocol.Event
	var line []byte
	emit := func(where string) error {
		for _, e := range events {
			line, err = protocol.AppendJSON(line[:0], e)
			if err != nil {
				fmt.Fprintf(errw, "%s: cannot encode event: %v\n", where, err)
				bad++
				continue
			}
			line = append(line, '\n')
			if _, err := out.Write(line); err != nil {
				return err
			}
		}
		return nil
	}
	report := func(where string, errs []error) {
		for _, e := range errs {
			fmt.Fprintf(errw, "%s: %v\n", where, e)
			bad++
		}
	}
	if o.hex {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), 2*protocol.MaxPacketLen+2)
		for n := 1; sc.Scan(); n++ {
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 || text[0] == '#' {
				continue
			}
			where := fmt.Sprintf("line %d", n)
			msg := make([]byte, hex.DecodedLen(len(text)))
			if _, err := hex.Decode(msg, text); err != nil {
				report(where, []error{fmt.Errorf("bad hex: %w", err)})
				continue
			}
			var errs []error
			events, errs = fd.DecodeMessage(events[:0], msg, o.roomID)
			if err := emit(where); err != nil {
				return bad, err
			}
			report(where, errs)
		}
		if err := sc.Err(); err != nil {
			report("input", []error{err})
		}
		return bad, nil
	}
	sr := protocol.NewStreamReader(in)
	for {
		msg, off, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		where := fmt.Sprintf("offset %d", off)
		if err != nil {
			report(where, []error{err})
			return bad, nil // a byte stream cannot be resynchronised
		}
		var errs []error
		events, errs = fd.DecodeMessage(events[:0], msg, o.roomID)
		if err := emit(where); err != nil {
			return bad, err
		}
		report(where, errs)
	}
}
