package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/export"
	"github.com/danmakud/danmakud/internal/bytesize"
	"github.com/danmakud/danmakud/internal/profiling"
	"github.com/danmakud/danmakud/internal/progress"
	"github.com/danmakud/danmakud/internal/shutdown"
	"github.com/danmakud/danmakud/internal/sourceaddr"
	"github.com/danmakud/danmakud/report"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// collectOptions are collect's flags (the names are a contract): most
// bound straight into the daemon configuration.
type collectOptions struct {
	cfg         daemon.Config
	quiet       bool
	cookieFiles []string
	anonymous   bool
	shard       string // --shard K/N, parsed into cfg.Shard by validate
	sourceAddr  string // --source-addr, parsed into cfg.SourceAddr by validate
	logFormat   string
	memProfile  string
	cpuProfile  string
	stderr      io.Writer
	progress    bool // a progress line on stderr (a terminal, not --quiet)
}

func newCollectCmd() *cobra.Command {
	var o collectOptions
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Watch the top-N live rooms (or given rooms) and store every event in SQLite",
		Long: `Collect watches the most popular live rooms (re-ranked as rooms start and stop)
and/or the rooms given with --room, keeps one connection per room, and writes
every event to one SQLite file (WAL mode: query it while it runs).

It stops on SIGINT/SIGTERM or when --duration has passed: discovery stops, every
connection drains and closes, the last batch is flushed, exit 0. A second signal
exits at once (status 130) without the final flush.

Log in first (danmakud login): Bilibili sends an anonymous connection about one
message in ten in most rooms. Each account watches at most --rooms-per-account
rooms; rooms beyond every account's budget are watched anonymously and marked
sampled (or skipped with --logged-in-only). Each room's coverage is estimated
from its own danmaku history and reported at the end and by danmakud stats.`,
		Example: `  danmakud login                                          # once: QR code, cookies saved
  danmakud collect --top 100 --duration 1h                # the 100 busiest rooms for an hour
  danmakud collect --top 0 --room 76 --room 21452505      # given rooms only (short ids resolved)
  danmakud collect --top 50 --area 371 --db vtubers.db    # one area
  danmakud collect --top 100 --metrics-addr 127.0.0.1:9464 # status page, /metrics and /healthz
  danmakud collect --cookie-file a1.txt --cookie-file a2.txt --rooms-per-account 5 --top 10
  danmakud collect --top 100 --duration 59m50s --lock-wait 5m --quiet   # hourly from cron
  danmakud collect --top 1000 --shard 2/4 --source-addr 2001:db8::12 --db shard-2.db --cookie-file s2-a.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stderr = cmd.ErrOrStderr()
			o.progress = progress.IsTerminal(o.stderr) && !o.quiet
			ctx, hard, stop := shutdown.Contexts(cmd.Context())
			defer stop()
			return o.run(ctx, hard, strings.Join(os.Args[1:], " "))
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.cfg.Top, "top", 100, "watch the N most popular live rooms (0 = only --room rooms)")
	f.Int64Var(&o.cfg.Area, "area", 0, "take the top rooms of this area id only (0 = all areas)")
	f.Int64SliceVar(&o.cfg.Rooms, "room", nil, "also watch this room (real or short id; repeatable; never dropped)")
	f.StringVar(&o.cfg.DB, "db", "danmakud.db", "SQLite database file")
	f.StringVar(&o.shard, "shard", "", "be shard K of N (K from 0): watch only the rooms, listed or --room, that hashing the room id gives to K; each shard has its own accounts, address and database")
	f.StringVar(&o.sourceAddr, "source-addr", "", "send every HTTP request and danmaku connection from this local IP address (IPv4 or IPv6)")
	f.DurationVar(&o.cfg.Duration, "duration", 0, "stop after this long (0 = until signalled)")
	f.DurationVar(&o.cfg.FlushInterval, "flush-interval", 10*time.Second, "commit buffered events this often")
	f.DurationVar(&o.cfg.Refresh, "refresh", 5*time.Minute, "re-rank the top rooms this often")
	f.StringVar(&o.cfg.APIBase, "api-base", "", "send every Bilibili HTTP request to this base URL (e.g. the simulator's)")
	f.BoolVar(&o.quiet, "quiet", false, "print only errors and the final summary")
	f.StringArrayVar(&o.cookieFiles, "cookie-file", nil, "login cookies (Netscape cookies.txt or name=value lines, mode 0600); repeatable, one file per account; default "+roomsource.DefaultCookiePath()+" when it exists")
	f.BoolVar(&o.anonymous, "anonymous", false, "do not log in even if a cookie file exists (Bilibili then sends about one message in ten)")
	f.IntVar(&o.cfg.RoomsPerAccount, "rooms-per-account", collector.DefaultRoomsPerAccount, "watch at most this many rooms per account at once; rooms beyond every account's budget are watched anonymously (a sample)")
	f.BoolVar(&o.cfg.LoggedInOnly, "logged-in-only", false, "skip rooms beyond every account's budget instead of watching them anonymously")
	f.StringVar(&o.logFormat, "log-format", "text", "log lines as text (key=value) or json (one object per line)")
	f.DurationVar(&o.cfg.LockWait, "lock-wait", 2*time.Minute, "if another collect holds the database, wait this long for it to finish (0 = exit 4 at once)")
	f.DurationVar(&o.cfg.Watchdog, "watchdog", time.Minute, "coverage checks: at most this long between two checks of a room's danmaku history against what arrived (busy rooms down to 10s; 0 = off)")
	f.DurationVar(&o.cfg.Heartbeat, "heartbeat", 30*time.Second, "heartbeat interval; a silent connection is dropped after two")
	f.Float64Var(&o.cfg.HTTPRate, "http-rate", 2, "HTTP requests per second to Bilibili, all endpoints together")
	f.DurationVar(&o.cfg.FinalFlushTimeout, "final-flush-timeout", time.Minute, "how long the final flush may take on shutdown")
	f.BoolVar(&o.cfg.Raw, "raw", false, "also archive every command body as received (table raw_messages; ~2 KB per message)")
	f.StringSliceVar(&o.cfg.Kinds, "kinds", nil, "store only these kinds of event (comma-separated: "+strings.Join(export.KindNames(), ",")+"); the others are counted per room and kind (stats shows them) but not stored (default all)")
	f.StringVar(&o.memProfile, "memprofile", "", "write a heap profile here when collect is told to stop (before the workers stop)")
	_ = f.MarkHidden("memprofile")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz, the status page / and /api/status on this address (e.g. 127.0.0.1:9464; default off)")
	f.BoolVar(&o.cfg.Pprof, "pprof", false, "also serve Go's profiles under /debug/pprof/ on --metrics-addr (heap, CPU, goroutines of the running process)")
	f.Var(bytesize.Flag{P: &o.cfg.MemoryLimit}, "memory-limit", "resident memory the run may use (e.g. 400MiB, 2GiB): the Go runtime's soft limit sits 16 MiB and a twentieth below it, and it is the base of every in-memory backlog; more waits in the journal on disk (default a quarter of the machine's memory)")
	f.BoolVar(&o.cfg.Tuning.KeepJournal, "journal-keep", false, "keep every journal segment, also those stored (tests, forensics)")
	_ = f.MarkHidden("journal-keep")
	f.Var(bytesize.Flag{P: &o.cfg.JournalMax}, "journal-max", "bound on the frame journal beside the database (frames read, not yet stored); past it frames are dropped, counted and logged (default 32GiB)")
	return cmd
}

func (o *collectOptions) validate() error {
	c := &o.cfg
	switch {
	case c.Top < 0:
		return fmt.Errorf("--top %d: must be ≥ 0", c.Top)
	case c.Top == 0 && len(c.Rooms) == 0:
		return fmt.Errorf("nothing to watch: --top 0 and no --room")
	case c.FlushInterval <= 0:
		return fmt.Errorf("--flush-interval %v: must be > 0", c.FlushInterval)
	case c.Refresh <= 0:
		return fmt.Errorf("--refresh %v: must be > 0", c.Refresh)
	case c.Duration < 0:
		return fmt.Errorf("--duration %v: must be ≥ 0 (0 = until signalled)", c.Duration)
	case c.HTTPRate <= 0:
		return fmt.Errorf("--http-rate %v: must be > 0", c.HTTPRate)
	case c.Heartbeat <= 0:
		return fmt.Errorf("--heartbeat %v: must be > 0", c.Heartbeat)
	case c.Watchdog < 0:
		return fmt.Errorf("--watchdog %v: must be ≥ 0 (0 = off)", c.Watchdog)
	case c.FinalFlushTimeout <= 0:
		return fmt.Errorf("--final-flush-timeout %v: must be > 0 (the last batch is written within it)", c.FinalFlushTimeout)
	case c.RoomsPerAccount < 1:
		return fmt.Errorf("--rooms-per-account %d: must be ≥ 1", c.RoomsPerAccount)
	case o.logFormat != "" && o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	case c.LockWait < 0:
		return fmt.Errorf("--lock-wait %v: must be ≥ 0", c.LockWait)
	case o.anonymous && len(o.cookieFiles) > 0:
		return fmt.Errorf("--anonymous and --cookie-file contradict each other")
	case o.anonymous && c.LoggedInOnly:
		return fmt.Errorf("--anonymous and --logged-in-only contradict each other")
	case c.Pprof && c.MetricsAddr == "":
		return fmt.Errorf("--pprof needs --metrics-addr: the profiles are served there")
	}
	for _, r := range c.Rooms {
		if r <= 0 {
			return fmt.Errorf("--room %d: room ids are positive integers", r)
		}
	}
	if o.shard != "" {
		sh, err := roomsource.ParseShard(o.shard)
		if err != nil {
			return fmt.Errorf("--shard %w", err)
		}
		c.Shard = sh
	}
	if o.sourceAddr != "" {
		a, err := sourceaddr.Parse(o.sourceAddr)
		if err != nil {
			return fmt.Errorf("--source-addr: %w", err)
		}
		c.SourceAddr = a
	}
	if _, err := storage.ParseKinds(c.Kinds); err != nil {
		return fmt.Errorf("--kinds: %w", err)
	}
	return nil
}

// logger is the run's log: text or JSON lines on stderr, errors only with
// --quiet.
func (o *collectOptions) logger() *slog.Logger {
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelError
	}
	var handler slog.Handler = slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level})
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(o.stderr, &slog.HandlerOptions{Level: level})
	}
	return slog.New(handler)
}

// config completes the daemon configuration the flags describe.
func (o *collectOptions) config(log *slog.Logger, args string) (daemon.Config, error) {
	cfg := o.cfg
	cfg.Logger, cfg.Version, cfg.Args = log, version, args
	if cfg.Watchdog == 0 {
		cfg.Watchdog = -1 // --watchdog 0 = off
	}
	if o.memProfile != "" {
		cfg.OnStopping = func() { reportProfile(profiling.Write(o.memProfile, "heap")) }
	}
	if o.anonymous {
		return cfg, nil
	}
	accts, usedDefault, err := roomsource.LoadAccounts(o.cookieFiles)
	if usedDefault && err == nil {
		log.Info("logging in with the default cookie file", "file", roomsource.DefaultCookiePath())
	}
	cfg.Accounts = accts
	return cfg, err
}

// run is collect: flags → daemon.Config → runDaemon. hard ends the run at
// once (a second signal).
func (o *collectOptions) run(ctx, hard context.Context, args string) error {
	if err := o.validate(); err != nil {
		return &exitError{exitUsage, err}
	}
	stopProfile, err := profiling.Start(o.cpuProfile, "")
	if err != nil {
		return &exitError{exitFailure, err}
	}
	defer stopProfile()
	log := o.logger()
	cfg, err := o.config(log, args)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	if len(cfg.Accounts) == 0 && !o.quiet {
		report.WriteAnonymous(o.stderr, roomsource.DefaultCookiePath())
	}
	return runDaemon(ctx, hard, cfg, o.stderr, o.progress)
}

// runDaemon runs one collection with a progress line on stderr when
// showProgress is set, prints the summary at the end and maps errors to
// exit codes. collect and demo share it.
func runDaemon(ctx, hard context.Context, cfg daemon.Config, stderr io.Writer, showProgress bool) error {
	d, err := daemon.New(cfg)
	if err != nil {
		return daemonExit(err)
	}
	stopProgress := func() {}
	if showProgress {
		stopProgress = progress.StartLine(ctx, stderr, time.Second, report.CollectProgress(time.Now(), d.Totals))
	}
	res, err := d.Run(ctx, hard)
	stopProgress()
	if res != nil {
		report.WriteCollect(stderr, res.DB, res)
	}
	if err != nil {
		return daemonExit(err)
	}
	return nil
}

// daemonExit maps a daemon error to its exit code.
func daemonExit(err error) error {
	code := exitFailure
	switch daemon.KindOf(err) {
	case daemon.Usage:
		code = exitUsage
	case daemon.Locked:
		code = exitLocked
	case daemon.Interrupted:
		code = exitInterrupted
	}
	return &exitError{code, err}
}
