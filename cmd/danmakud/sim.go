package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/profiling"
	"github.com/spf13/cobra"
)

type simOptions struct {
	opts       livesim.Options
	truth      string
	addrFile   string
	certFile   string
	stats      time.Duration
	memProfile string
	cpuProf    string
}

func newSimCmd() *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use: "sim",
		Example: `  danmakud sim --rooms 200 --rate 20000 --truth truth.json --addr-file sim.addr
  danmakud collect --api-base "$(cat sim.addr)" --top 100 --duration 5m --anonymous
  danmakud sim --rooms 50 --accounts 10 --cookie-dir cookies --addr-file sim.addr   # logged-in accounts
  danmakud sim --drop-every 10s --stall-every 1m --corrupt 0.01 --http-412 0.02     # faults`,
		Short: "Run the built-in Bilibili live simulator (HTTP APIs and WebSocket)",
		Long: `Sim serves a faithful fake of Bilibili's live HTTP APIs and danmaku WebSocket
on one listener, the same over TLS on a second (host_list wss_port; its
self-signed certificate goes to --cert-file) and the raw TCP danmaku port on a
third. It prints its base URL (and writes it to --addr-file once
listening); point collect at it with --api-base. On SIGINT/SIGTERM it writes
the ground truth (--truth) and exits.

As on the real service (2026), an anonymous (uid 0) connection gets only a
sample of its room's commands (--anon-keep, each command independently), names
masked, except in the busiest --official-rooms rooms. --accounts N makes N
logged-in accounts and, with --cookie-dir, writes DIR/account-<i>.txt (Netscape
cookies.txt, mode 0600); an account's connections beyond --account-rooms rooms
are sampled too. An auth whose uid is not the identity its token was fetched
under is cut right after the handshake, a heartbeat before the auth at once;
both count as violations, and a client that keeps at it gets -352 from
getDanmuInfo for a while. QR login (passport qrcode/generate and poll) creates
new accounts. With support_ack in the auth, acks (op 24) are counted.

Limits are per source IP, as on the real service: each IP has its own HTTP
budget (--http-budget, --http-burst) and 412 ban (--ban-for), and at most
--ip-conn-limit danmaku connections open; per account, --account-rooms.

The truth file: {"rooms": {"<room_id>": {"danmaku", "gift", "super_chat",
"guard", "interact": distinct events delivered intact at least once,
"generated": {the same kinds: events the room generated}}}, "violations": N,
"ips": {"<ip>": {"connections", "open", "peak_connections", "over_limit",
"http_requests", "http_412", "paths": {"<path>": N}}}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.opts.Listen, "listen", "127.0.0.1:0", "address to listen on (HTTP APIs and ws:// /sub: host_list ws_port)")
	f.StringVar(&o.opts.TLSListen, "tls-listen", "", "address of the TLS listener (https APIs and wss:// /sub: host_list wss_port); default a free port on the --listen host")
	f.StringVar(&o.opts.TCPListen, "tcp-listen", "", "address of the raw TCP danmaku listener (host_list port); default a free port on the --listen host")
	f.IntVar(&o.opts.Rooms, "rooms", 20, "number of rooms")
	f.Float64Var(&o.opts.Rate, "rate", 200, "messages per second summed over live rooms (Zipf-distributed)")
	f.Uint64Var(&o.opts.Seed, "seed", 0, "random seed (0 = random)")
	f.DurationVar(&o.opts.Tick, "tick", 200*time.Millisecond, "how often each room's pending messages go out as one frame")
	f.DurationVar(&o.opts.DropEvery, "drop-every", 0, "close each connection after about this long (TCP close, no close frame)")
	f.DurationVar(&o.opts.StallEvery, "stall-every", 0, "stall each connection after about this long")
	f.Float64Var(&o.opts.Corrupt, "corrupt", 0, "fraction of frames made undecodable")
	f.Float64Var(&o.opts.AuthReject, "auth-reject", 0, "fraction of auths refused")
	f.Float64Var(&o.opts.Throttle, "throttle", 0, "fraction of connections silently given only part of their room's messages")
	f.Float64Var(&o.opts.HTTP412, "http-412", 0, "fraction of HTTP requests answered 412")
	f.DurationVar(&o.opts.RotateKeys, "rotate-keys", 0, "rotate WBI keys every this long (stale signatures get -352)")
	f.DurationVar(&o.opts.TrafficFor, "traffic-for", 0, "stop generating messages after this long (connections stay up)")
	f.DurationVar(&o.opts.HeartbeatTimeout, "heartbeat-timeout", 70*time.Second, "close connections that send no heartbeat for this long")
	f.Float64Var(&o.opts.HTTPRate, "http-budget", 20, "HTTP requests per second each source IP may send before 412 (every IP its own budget and ban)")
	f.IntVar(&o.opts.HTTPBurst, "http-burst", 60, "requests a source IP may send at once within --http-budget")
	f.DurationVar(&o.opts.BanFor, "ban-for", time.Minute, "how long a source IP over budget gets 412")
	f.IntVar(&o.opts.IPConnLimit, "ip-conn-limit", 0, "danmaku connections one source IP may have open at once; more are cut right after their auth reply (0 = no cap)")
	f.DurationVar(&o.opts.LiveFor, "live-for", 30*time.Minute, "mean length of a live spell; rooms then go offline for --offline-for (0 = rooms stay live)")
	f.DurationVar(&o.opts.OfflineFor, "offline-for", 10*time.Minute, "mean length of an offline spell")
	f.Float64Var(&o.opts.AnonKeep, "anon-keep", 0.1, "share of its room's commands an anonymous connection receives, each sampled independently (0 or 1 = all)")
	f.IntVar(&o.opts.OfficialRooms, "official-rooms", -1, "how many of the busiest rooms give anonymous connections everything (-1 = 1% of --rooms)")
	f.IntVar(&o.opts.Accounts, "accounts", 0, "logged-in accounts to create (their cookies go to --cookie-dir)")
	f.StringVar(&o.opts.CookieDir, "cookie-dir", "", "write account i's cookies to DIR/account-<i>.txt (Netscape format, mode 0600)")
	f.IntVar(&o.opts.AccountRooms, "account-rooms", 0, "rooms one account gets in full at once; its connections to more rooms are sampled like anonymous ones (0 = no limit)")
	f.BoolVar(&o.opts.QRExpire, "qr-expire", false, "QR login polls answer 86038 (expired)")
	f.BoolVar(&o.opts.ResendUnacked, "resend-unacked", false, "re-send once, after 5s, a command a support_ack connection did not ack")
	f.DurationVar(&o.opts.RedPocketEvery, "red-pocket-every", time.Minute, "mean time between a live room's red pockets (negative = none); each is re-broadcast every 20s while it lasts")
	f.StringVar(&o.truth, "truth", "", "write the ground truth JSON here on exit")
	f.StringVar(&o.addrFile, "addr-file", "", "write the base URL here once listening")
	f.StringVar(&o.certFile, "cert-file", "", "write the TLS port's self-signed certificate (PEM) here; trust it to use wss:// (host_list wss_port)")
	f.DurationVar(&o.stats, "stats-every", 0, "print running totals to stderr this often (0 = never)")
	f.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the simulator here")
	f.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the simulator here on exit")
	_ = f.MarkHidden("memprofile")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

func (o *simOptions) run(ctx context.Context, cmd *cobra.Command) error {
	stopProfile, err := profiling.Start(o.cpuProf, o.memProfile)
	if err != nil {
		return &exitError{exitFailure, err}
	}
	defer func() { reportProfile(stopProfile()) }()
	s, err := livesim.New(o.opts)
	if err != nil {
		return &exitError{exitFailure, err}
	}
	fmt.Fprintln(cmd.OutOrStdout(), s.URL())
	if err := s.Publish(o.addrFile, o.certFile); err != nil {
		s.Close()
		return &exitError{exitFailure, err}
	}
	s.ReportStats(ctx, cmd.ErrOrStderr(), o.stats) // until a signal
	if err := s.Stop(o.truth); err != nil {
		return &exitError{exitFailure, err}
	}
	return nil
}
