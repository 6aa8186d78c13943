package main

import (
	"bufio"
	"fmt"
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
			errw := cmd.ErrOrStderr()
			bad, err := protocol.DecodeStream(in, out, protocol.DecodeStreamOptions{Hex: o.hex, RoomID: o.roomID,
				OnBad: func(e *protocol.InputError) { fmt.Fprintln(errw, e) }})
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
