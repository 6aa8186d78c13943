package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/danmakud/danmakud/internal/cookiefile"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"
)

// loginOptions are login's flags.
type loginOptions struct {
	cookieFile string
	apiBase    string
	timeout    time.Duration
	poll       time.Duration
	force      bool
	noQR       bool
	stdout     io.Writer
	stderr     io.Writer
}

func newLoginCmd() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to Bilibili by QR code and save the cookies for collect",
		Long: `Login prints a QR code (and its URL) to scan with the Bilibili app, waits
until the login is confirmed on the phone, and writes the cookies to
--cookie-file (mode 0600). collect uses that file by default.

Why log in: Bilibili sends an anonymous connection about one message in ten in
most rooms and masks user names; a logged-in connection gets the whole stream.
One account watches at most --rooms-per-account rooms at once (default 5);
log in several accounts into several files for more rooms.

The cookie file is a secret: it is never printed, logged or stored in the
database.`,
		Example: `  danmakud login                                  # QR code, cookies to the default path
  danmakud login --cookie-file ~/.config/danmakud/account-2.txt
  danmakud collect --cookie-file a1.txt --cookie-file a2.txt --top 10
  danmakud login --api-base http://127.0.0.1:8080 --cookie-file sim.txt   # against danmakud sim`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			ctx, _, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			return o.run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cookieFile, "cookie-file", roomsource.DefaultCookiePath(), "where to write the cookies (mode 0600)")
	f.StringVar(&o.apiBase, "api-base", "", "send every Bilibili HTTP request to this base URL (e.g. the simulator's)")
	f.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up if the login is not confirmed within this")
	f.DurationVar(&o.poll, "poll", 2*time.Second, "how often to ask whether the code was scanned")
	f.BoolVar(&o.force, "force", false, "overwrite --cookie-file even if it is not a cookie file")
	f.BoolVar(&o.noQR, "no-qr", false, "print only the URL (make the QR code with another tool)")
	return cmd
}

func (o *loginOptions) run(ctx context.Context) error {
	if o.timeout <= 0 || o.poll <= 0 {
		return &exitError{exitUsage, fmt.Errorf("--timeout and --poll must be > 0")}
	}
	// A mistyped path must not destroy some other file.
	if err := cookiefile.CheckReplace(o.cookieFile, o.force); errors.Is(err, cookiefile.ErrNotCookieFile) {
		return &exitError{exitUsage, fmt.Errorf("--cookie-file %w; not overwriting it (use --force)", err)}
	} else if err != nil {
		return &exitError{exitUsage, fmt.Errorf("--cookie-file %w", err)}
	}
	api, err := roomsource.New(roomsource.Config{APIBase: o.apiBase, Rate: 2, Burst: 4})
	if err != nil {
		return &exitError{exitUsage, err}
	}
	mid, err := api.QRLogin(ctx, roomsource.QRLoginOptions{CookieFile: o.cookieFile, Timeout: o.timeout, Poll: o.poll,
		OnCode: o.showCode, OnState: o.showState,
		OnPollError: func(err error) { fmt.Fprintf(o.stderr, "login: poll failed (will retry): %v\n", err) }})
	if err != nil {
		return &exitError{exitFailure, err} // roomsource's QR login errors are written for the user
	}
	fmt.Fprintf(o.stdout, "Logged in as uid %d. Cookies saved to %s (mode 0600); collect uses them", mid, o.cookieFile)
	if o.cookieFile == roomsource.DefaultCookiePath() {
		fmt.Fprintln(o.stdout, " by default.")
	} else {
		fmt.Fprintf(o.stdout, " with --cookie-file %s.\n", o.cookieFile)
	}
	return nil
}

// showCode prints the QR code (unless --no-qr) and its URL.
func (o *loginOptions) showCode(qr roomsource.QRCode) {
	if !o.noQR {
		qrterminal.GenerateWithConfig(qr.URL, qrterminal.Config{Level: qrterminal.L, Writer: o.stdout,
			HalfBlocks: true, BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
			WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE, QuietZone: 1})
	}
	fmt.Fprintf(o.stdout, "Scan this with the Bilibili app (or open the URL on a logged-in phone):\n  %s\n", qr.URL)
}

// showState reports the login's progress on stderr.
func (o *loginOptions) showState(code int) {
	switch code {
	case roomsource.QRNotScanned:
		fmt.Fprintln(o.stderr, "login: waiting for the code to be scanned …")
	case roomsource.QRScanned:
		fmt.Fprintln(o.stderr, "login: scanned; confirm the login on the phone …")
	}
}
