package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run collect against the built-in simulator (not yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "demo: not yet — it arrives with the collect command (issue 4). Try: danmakud decode --hex testdata/samples/frames/zlib_danmu_1.hex")
			return nil
		},
	}
}
