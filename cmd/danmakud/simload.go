package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/simload"
	"github.com/spf13/cobra"
)

// newSimLoadCmd is the load client for measuring `danmakud sim`
// (scripts/simload.sh); see internal/simload.
func newSimLoadCmd() *cobra.Command {
	var cfg simload.Config
	var dur time.Duration
	cmd := &cobra.Command{
		Use:    "simload --url URL --conns N --for D",
		Short:  "Open many raw connections to a simulator and count what arrives",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, dur)
			defer cancel()
			cfg.Opened = func(conns, rooms int) {
				fmt.Fprintf(cmd.ErrOrStderr(), "simload: %d connections open over %d rooms\n", conns, rooms)
			}
			r, err := simload.Run(ctx, cfg)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			el := r.Took.Seconds()
			fmt.Fprintf(cmd.OutOrStdout(), "simload: conns=%d frames/s=%.0f MB/s=%.1f closed-by-server=%d\n",
				r.Conns, float64(r.Frames)/el, float64(r.Bytes)/el/1e6, r.ClosedByServer)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.APIBase, "url", "", "simulator base URL")
	cmd.Flags().IntVar(&cfg.Conns, "conns", 1000, "connections to open")
	cmd.Flags().DurationVar(&dur, "for", 30*time.Second, "how long to run")
	return cmd
}
