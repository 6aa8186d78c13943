package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// collectOptions are collect's flags; the names are a contract.
type collectOptions struct {
	top           int
	area          int64
	rooms         []int64
	db            string
	duration      time.Duration
	flushInterval time.Duration
	refresh       time.Duration
	apiBase       string
	quiet         bool
	cookieFiles   []string
	anonymous     bool
	perAccount    int
	loggedInOnly  bool
	lockWait      time.Duration
	logFormat     string
	watchdog      time.Duration
	heartbeat     time.Duration
	httpRate      float64
	finalFlush    time.Duration
	memProfile    string
	cpuProfile    string
	raw           bool
	metricsAddr   string

	// set by demo and tests
	stdout, stderr io.Writer
	progress       bool
	hysteresis     int
	spread         time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	healthyAfter   time.Duration
	breakerPause   time.Duration
	loginCheck     time.Duration
	pendingMax     int // storage.WriterOptions.PendingMax (0 = its default)
	// metricsReady, when set, is called with the metrics server's
	// address once it listens (tests use --metrics-addr 127.0.0.1:0).
	metricsReady func(addr string)
	// hard, when set, is cancelled by a second signal: collect then
	// stops at once without the final flush, records the run as
	// interrupted, closes the database and exits 130.
	hard context.Context
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
  danmakud collect --top 100 --metrics-addr 127.0.0.1:9464 # Prometheus /metrics and /healthz
  danmakud collect --cookie-file a1.txt --cookie-file a2.txt --rooms-per-account 5 --top 10
  danmakud collect --top 100 --duration 59m50s --lock-wait 5m --quiet   # hourly from cron`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.progress = isTerminal(os.Stderr) && !o.quiet
			ctx, hard, stop := signalContexts(cmd.Context())
			defer stop()
			o.hard = hard
			return o.run(ctx, strings.Join(os.Args[1:], " "))
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.top, "top", 100, "watch the N most popular live rooms (0 = only --room rooms)")
	f.Int64Var(&o.area, "area", 0, "take the top rooms of this area id only (0 = all areas)")
	f.Int64SliceVar(&o.rooms, "room", nil, "also watch this room (real or short id; repeatable; never dropped)")
	f.StringVar(&o.db, "db", "danmakud.db", "SQLite database file")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (0 = until signalled)")
	f.DurationVar(&o.flushInterval, "flush-interval", 10*time.Second, "commit buffered events this often")
	f.DurationVar(&o.refresh, "refresh", 5*time.Minute, "re-rank the top rooms this often")
	f.StringVar(&o.apiBase, "api-base", "", "send every Bilibili HTTP request to this base URL (e.g. the simulator's)")
	f.BoolVar(&o.quiet, "quiet", false, "print only errors and the final summary")
	f.StringArrayVar(&o.cookieFiles, "cookie-file", nil, "login cookies (Netscape cookies.txt or name=value lines, mode 0600); repeatable, one file per account; default "+roomsource.DefaultCookiePath()+" when it exists")
	f.BoolVar(&o.anonymous, "anonymous", false, "do not log in even if a cookie file exists (Bilibili then sends about one message in ten)")
	f.IntVar(&o.perAccount, "rooms-per-account", collector.DefaultRoomsPerAccount, "watch at most this many rooms per account at once; rooms beyond every account's budget are watched anonymously (a sample)")
	f.BoolVar(&o.loggedInOnly, "logged-in-only", false, "skip rooms beyond every account's budget instead of watching them anonymously")
	f.StringVar(&o.logFormat, "log-format", "text", "log lines as text (key=value) or json (one object per line)")
	f.DurationVar(&o.lockWait, "lock-wait", 2*time.Minute, "if another collect holds the database, wait this long for it to finish (0 = exit 4 at once)")
	f.DurationVar(&o.watchdog, "watchdog", time.Minute, "coverage checks: at most this long between two checks of a room's danmaku history against what arrived (busy rooms down to 10s; 0 = off)")
	f.DurationVar(&o.heartbeat, "heartbeat", 30*time.Second, "heartbeat interval; a silent connection is dropped after two")
	f.Float64Var(&o.httpRate, "http-rate", 2, "HTTP requests per second to Bilibili, all endpoints together")
	f.DurationVar(&o.finalFlush, "final-flush-timeout", time.Minute, "how long the final flush may take on shutdown")
	f.BoolVar(&o.raw, "raw", false, "also archive every command body as received (table raw_messages; ~2 KB per message)")
	f.StringVar(&o.memProfile, "memprofile", "", "write a heap profile here when collect is told to stop (before the workers stop)")
	_ = f.MarkHidden("memprofile")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics and /healthz on this address (e.g. 127.0.0.1:9464; default off)")
	return cmd
}

// signalContexts returns ctx, cancelled by the first SIGINT/SIGTERM;
// hard, cancelled by a second one (give up the final flush and exit 130);
// and a stop func that releases the signal handler.
func signalContexts(parent context.Context) (ctx, hard context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	hard, cancelHard := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		cancel()
		if _, ok := <-ch; ok {
			cancelHard()
		}
	}()
	return ctx, hard, func() { signal.Stop(ch); close(ch); cancel(); <-done; cancelHard() }
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (o *collectOptions) validate() error {
	switch {
	case o.top < 0:
		return fmt.Errorf("--top %d: must be ≥ 0", o.top)
	case o.top == 0 && len(o.rooms) == 0:
		return fmt.Errorf("nothing to watch: --top 0 and no --room")
	case o.flushInterval <= 0:
		return fmt.Errorf("--flush-interval %v: must be > 0", o.flushInterval)
	case o.refresh <= 0:
		return fmt.Errorf("--refresh %v: must be > 0", o.refresh)
	case o.duration < 0:
		return fmt.Errorf("--duration %v: must be ≥ 0 (0 = until signalled)", o.duration)
	case o.httpRate <= 0:
		return fmt.Errorf("--http-rate %v: must be > 0", o.httpRate)
	case o.heartbeat <= 0:
		return fmt.Errorf("--heartbeat %v: must be > 0", o.heartbeat)
	case o.watchdog < 0:
		return fmt.Errorf("--watchdog %v: must be ≥ 0 (0 = off)", o.watchdog)
	case o.finalFlush <= 0:
		return fmt.Errorf("--final-flush-timeout %v: must be > 0 (the last batch is written within it)", o.finalFlush)
	case o.perAccount < 1:
		return fmt.Errorf("--rooms-per-account %d: must be ≥ 1", o.perAccount)
	case o.logFormat != "" && o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	case o.lockWait < 0:
		return fmt.Errorf("--lock-wait %v: must be ≥ 0", o.lockWait)
	case o.anonymous && len(o.cookieFiles) > 0:
		return fmt.Errorf("--anonymous and --cookie-file contradict each other")
	case o.anonymous && o.loggedInOnly:
		return fmt.Errorf("--anonymous and --logged-in-only contradict each other")
	}
	for _, r := range o.rooms {
		if r <= 0 {
			return fmt.Errorf("--room %d: room ids are positive integers", r)
		}
	}
	return nil
}

// loadAccounts reads the cookie files (or the default one when it exists
// and none was given). Errors name the file; cookies never appear.
func (o *collectOptions) loadAccounts(log *slog.Logger) ([]*roomsource.Account, error) {
	if o.anonymous {
		return nil, nil
	}
	files := o.cookieFiles
	if len(files) == 0 {
		def := roomsource.DefaultCookiePath()
		if _, err := os.Stat(def); err != nil {
			return nil, nil
		}
		log.Info("logging in with the default cookie file", "file", def)
		files = []string{def}
	}
	var accts []*roomsource.Account
	for _, f := range files {
		a, err := roomsource.LoadCookieFile(f)
		if err != nil {
			return nil, err
		}
		accts = append(accts, a)
	}
	return accts, nil
}

// anonymousNotice is what an anonymous run says at start and at the end.
const anonymousNotice = `collecting ANONYMOUSLY: Bilibili sends a guest connection about one message in ten
in most rooms, and masks user names and uids. What is stored is a sample, not the room's stream.
Log in for the full stream: danmakud login (then collect uses ` + "%s" + `), or --cookie-file FILE.`

// loginWatch checks every account's login at start and then every
// interval (nav). A lapsed login is an error (shown even with --quiet),
// logged once per change and counted; its rooms continue anonymously.
type loginWatch struct {
	api      *roomsource.Client
	col      *collector.Collector
	accts    []*roomsource.Account
	log      *slog.Logger
	lapsed   []bool
	mx       *metrics.Metrics // nil: none
	Lapses   atomic.Int64
	LoggedIn atomic.Int64 // accounts logged in after the last check
}

func (lw *loginWatch) check(ctx context.Context) {
	var ok int64
	for i, a := range lw.accts {
		mid, err := lw.api.Login(ctx, i)
		switch {
		case errors.Is(err, roomsource.ErrNotLoggedIn):
			if !lw.lapsed[i] {
				lw.lapsed[i] = true
				lw.Lapses.Add(1)
				lw.mx.LoginLapse()
				lw.log.Error("login refused: Bilibili says this cookie is not logged in; its rooms are watched anonymously (a sample). Run danmakud login again", "file", a.Label)
			}
			lw.col.SetLoginLapsed(i, true)
		case err != nil:
			lw.log.Warn("could not check the login; keeping it", "file", a.Label, "err", err)
			if !lw.lapsed[i] {
				ok++
			}
		default:
			if lw.lapsed[i] {
				lw.log.Info("login accepted again", "file", a.Label, "uid", mid)
			} else {
				lw.log.Info("logged in", "file", a.Label, "uid", mid)
			}
			lw.lapsed[i] = false
			lw.col.SetLoginLapsed(i, false)
			ok++
		}
	}
	lw.LoggedIn.Store(ok)
	lw.mx.SetAccounts(int(ok), len(lw.accts)-int(ok))
}

func (lw *loginWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lw.check(ctx)
		}
	}
}

// run is the whole collect lifecycle. Shutdown order: discovery stops,
// workers stop (each drains its connection), the record channel is
// closed by its owner (here), the writer flushes under its own timeout,
// the run is recorded, the database closed.
func (o *collectOptions) run(ctx context.Context, args string) error {
	// --duration counts from the start of the process, before the lock
	// wait: back-to-back runs from cron or a timer keep their slots.
	deadline := time.Now().Add(o.duration)
	if err := o.validate(); err != nil {
		return &exitError{exitUsage, err}
	}
	stopProfile, err := startProfiles(o.cpuProfile, "")
	if err != nil {
		return &exitError{exitFailure, err}
	}
	defer stopProfile()
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelError
	}
	var handler slog.Handler = slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level})
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(o.stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	accts, err := o.loadAccounts(log)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	if o.lockWait > 0 {
		log.Debug("opening the database; waiting for another collect if it holds it", "db", o.db, "lock_wait", o.lockWait)
	}
	db, err := storage.OpenContext(ctx, o.db, storage.OpenOptions{LockWait: o.lockWait})
	if err != nil {
		switch {
		case errors.Is(err, storage.ErrLocked):
			return &exitError{exitLocked, fmt.Errorf("%s is in use by another collect (waited %v for it to finish); refusing to start", o.db, o.lockWait)}
		case errors.Is(err, storage.ErrNotOurs), errors.Is(err, storage.ErrNewerSchema), errors.Is(err, storage.ErrReadOnly):
			return &exitError{exitUsage, err}
		}
		return &exitError{exitFailure, err}
	}
	defer db.Close()
	// The metrics server starts once the database is ours: a run waiting
	// for the previous one (--lock-wait) does not fight it for the port.
	mx := metrics.New(version)
	if o.metricsAddr != "" {
		srv, err := mx.Serve(o.metricsAddr)
		if err != nil {
			return &exitError{exitUsage, err}
		}
		defer srv.Close()
		log.Info("metrics on http://"+srv.Addr().String()+"/metrics", "healthz", "http://"+srv.Addr().String()+"/healthz")
		if o.metricsReady != nil {
			o.metricsReady(srv.Addr().String())
		}
	}
	started := time.Now()
	runID, err := db.StartRun(ctx, version, args)
	if err != nil {
		return &exitError{exitFailure, err}
	}
	api, err := roomsource.New(roomsource.Config{APIBase: o.apiBase, Rate: o.httpRate, Burst: max(2, int(o.httpRate*2)),
		Accounts: accts, Logger: log, BreakerPause: o.breakerPause, Metrics: mx})
	if err != nil {
		return &exitError{exitUsage, err}
	}
	// Bootstrap (buvid3, WBI keys) is retried with a growing wait: a 412 or
	// a network blip at start should not end a daemon. It gives up (exit
	// 1) after --duration, or after startupPatience without one, so that a
	// supervisor (systemd Restart=on-failure, cron) sees the failure.
	patience := startupPatience
	if o.duration > 0 {
		patience = min(patience, time.Until(deadline)+time.Since(started))
	}
	for wait := 5 * time.Second; ; wait = min(2*wait, 5*time.Minute) {
		err := api.Bootstrap(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Since(started)+wait > patience {
			_ = db.EndRun(context.Background(), runID, "bootstrap failed")
			msg := fmt.Sprintf("cannot reach the Bilibili API (tried for %s): %v", time.Since(started).Round(time.Second), err)
			if until := api.BreakerOpenUntil(); until.After(time.Now()) {
				msg += fmt.Sprintf("; Bilibili is rate-limiting this address (412): try again after %s", until.Format(time.DateTime+" MST"))
			}
			return &exitError{exitFailure, errors.New(msg)}
		}
		log.Warn("cannot reach the Bilibili API yet; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	var fixed []int64
	var metas []storage.RoomMeta
	var badRooms []string
	for _, id := range o.rooms {
		ri, err := api.RoomInit(ctx, id)
		if err != nil {
			if errors.Is(err, roomsource.ErrRoomNotFound) {
				badRooms = append(badRooms, strconv.FormatInt(id, 10))
				log.Error("--room: no such room; skipping it", "room", id)
				continue
			}
			_ = db.EndRun(context.Background(), runID, "bad room")
			return &exitError{exitFailure, fmt.Errorf("--room %d: %w", id, err)}
		}
		fixed = append(fixed, ri.RoomID)
		metas = append(metas, storage.RoomMeta{RoomID: ri.RoomID, ShortID: ri.ShortID, AnchorUID: ri.UID, SeenMs: time.Now().UnixMilli()})
	}
	if len(badRooms) > 0 && len(fixed) == 0 && o.top == 0 {
		_ = db.EndRun(context.Background(), runID, "bad room")
		return &exitError{exitUsage, fmt.Errorf("--room %s: no such room; nothing left to watch", strings.Join(badRooms, ", "))}
	}
	// --area: the list API answers an unknown area with an empty list, as
	// it does an area nobody streams in now. An empty first listing is
	// an error (exit 2) when there is no --room to watch, else a warning.
	if o.area != 0 && o.top > 0 {
		if listed, err := api.TopRooms(ctx, 1, o.area); err == nil && len(listed) == 0 {
			msg := fmt.Sprintf("--area %d lists no live rooms (no such area, or nobody is live in it now)", o.area)
			if len(fixed) == 0 {
				_ = db.EndRun(context.Background(), runID, "empty area")
				return &exitError{exitUsage, errors.New(msg + "; nothing to watch")}
			}
			log.Warn(msg+"; watching the --room rooms only until it does", "area", o.area)
		}
	}

	hardParent := o.hard
	if hardParent == nil {
		hardParent = context.Background()
	}
	hardCtx, hardStop := context.WithCancel(hardParent)
	defer hardStop()
	records := make(chan storage.Record, 65536)
	writer := storage.NewWriter(db, storage.WriterOptions{RunID: runID, FlushInterval: o.flushInterval, Logger: log, Metrics: mx, PendingMax: o.pendingMax})
	mx.SetQueueDepth(func() int { return len(records) })
	mx.SetFlushDeadline(max(3*o.flushInterval, time.Minute)) // /healthz: a writer stuck that long is unhealthy
	writerDone := make(chan error, 1)
	// The writer gives up early only when it cannot write and holds
	// PendingMax records: then everything stops at once.
	writerFailed := make(chan struct{})
	go func() {
		err := writer.Run(hardCtx, records)
		writerDone <- err
		if err != nil && hardCtx.Err() == nil {
			log.Error("cannot write the database; stopping", "db", o.db, "err", err)
			close(writerFailed)
			hardStop()
		}
	}()
	for _, m := range metas {
		records <- m
	}

	col := collector.New(collector.Config{
		API: api, Out: records, Hard: hardCtx, UserAgent: roomsource.DefaultUserAgent, Logger: log,
		Accounts: len(accts), RoomsPerAccount: o.perAccount, LoggedInOnly: o.loggedInOnly,
		HeartbeatInterval: o.heartbeat, WatchEvery: watchEvery(o.watchdog), Spread: o.spread, BackoffMin: o.backoffMin,
		BackoffMax: o.backoffMax, HealthyAfter: o.healthyAfter, RateLimitWait: o.breakerPause, Raw: o.raw,
		Metrics: mx,
	})
	lw := &loginWatch{api: api, col: col, accts: accts, log: log, lapsed: make([]bool, len(accts)), mx: mx}
	if len(accts) > 0 {
		lw.check(ctx)
	}
	if lw.LoggedIn.Load() == 0 && !o.quiet {
		fmt.Fprintf(o.stderr, anonymousNotice+"\n", roomsource.DefaultCookiePath())
	}
	runCtx := ctx
	if o.duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	runCtx, cancelRun := context.WithCancel(runCtx)
	defer cancelRun()
	go func() {
		select {
		case <-writerFailed:
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	start := time.Now()
	rounds := make(chan roomsource.Round, 1)
	disc := &roomsource.Discovery{Lister: api, Top: o.top, Area: o.area, Fixed: fixed, Refresh: o.refresh,
		Hysteresis: o.hysteresis, Logger: log}
	discCtx, stopDisc := context.WithCancel(runCtx)
	var discWG sync.WaitGroup
	discWG.Add(1)
	go func() { defer discWG.Done(); disc.Run(discCtx, rounds) }()
	progressDone := make(chan struct{})
	go o.progressLoop(runCtx, progressDone, mx, start)
	var lwWG sync.WaitGroup
	if len(accts) > 0 {
		lwWG.Add(1)
		go func() { defer lwWG.Done(); lw.run(runCtx, o.loginEvery()) }()
	}

	// Shutdown order: when runCtx ends, discovery stops first; only after
	// it has exited are the workers cancelled.
	workCtx, stopWork := context.WithCancel(context.Background())
	go func() { // a second signal: stop the workers at once too
		select {
		case <-hardCtx.Done():
			stopWork()
		case <-workCtx.Done():
		}
	}()
	go func() {
		<-runCtx.Done()
		if o.memProfile != "" {
			writeProfile(o.memProfile, "heap") // while every worker still runs
		}
		stopDisc()
		discWG.Wait()
		stopWork()
	}()
	col.Run(workCtx, rounds) // returns after every worker has stopped
	<-progressDone
	lwWG.Wait()
	close(records) // we own it: every producer has stopped

	flushTimer := time.AfterFunc(o.finalFlush, hardStop)
	werr := <-writerDone
	flushTimer.Stop()
	interrupted := o.hard != nil && o.hard.Err() != nil
	status := "ok"
	writeFailed := false
	select {
	case <-writerFailed:
		writeFailed = true
	default:
	}
	switch {
	case writeFailed:
		status = "write failed"
	case interrupted:
		status = "interrupted: second signal, no final flush"
	case werr != nil:
		status = "final flush failed"
	}
	if err := db.EndRun(context.Background(), runID, status); err != nil {
		if werr == nil {
			werr = err
		} else {
			werr = fmt.Errorf("%w; %v", werr, err)
		}
	}
	o.summary(col, mx.Totals(), time.Since(start))
	if interrupted {
		msg := "second signal: stopped without the final flush"
		if werr != nil {
			msg += " (" + werr.Error() + ")"
		}
		return &exitError{exitInterrupted, errors.New(msg)}
	}
	if werr != nil {
		return &exitError{exitFailure, werr}
	}
	return nil
}

func watchEvery(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// progressLoop prints one progress line a second on a terminal.
func (o *collectOptions) progressLoop(ctx context.Context, done chan<- struct{}, mx *metrics.Metrics, start time.Time) {
	defer close(done)
	if !o.progress {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastEv int64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.stderr)
			return
		case now := <-t.C:
			m := mx.Totals()
			ev := m.Events
			rate := float64(ev-lastEv) / now.Sub(last).Seconds()
			lastEv, last = ev, now
			fmt.Fprintf(o.stderr, "\r%s  rooms connected %d  %.0f msg/s  rows written %d  reconnects %d  ",
				time.Since(start).Round(time.Second), m.RoomsConnected, rate, m.Rows, m.Reconnects)
		}
	}
}

// loginEvery is how often logins are re-checked (nav); tests shorten it.
func (o *collectOptions) loginEvery() time.Duration {
	if o.loginCheck > 0 {
		return o.loginCheck
	}
	return time.Hour
}

// startupPatience is how long collect keeps retrying an unreachable API
// at start before it exits 1 (with --duration, at most that long).
const startupPatience = 10 * time.Minute

// lowCoverage is the share below which the summary names a room.
const lowCoverage = 0.9

// summary prints the end-of-run summary from the metrics totals m (and
// each room's coverage count from col).
func (o *collectOptions) summary(col *collector.Collector, m metrics.Totals, took time.Duration) {
	b := bufio.NewWriter(o.stderr)
	fmt.Fprintf(b, "collect: %s in %s: %d events (%.0f/s), %d rows written in %d flushes, %d duplicates ignored\n",
		o.db, took.Round(time.Millisecond), m.Events, float64(m.Events)/took.Seconds(),
		m.Rows, m.Flushes, m.Dups)
	fmt.Fprintf(b, "collect: %d sessions (%d logged in, %d anonymous), %d reconnects (%d with a still-valid token), %d recycled for low coverage, %d stalled, %d auth failures, %d bad frames, %d waits on the writer\n",
		m.Sessions, m.LoggedIn, m.Anonymous, m.Reconnects, m.TokenReuse, m.Recycles,
		m.Stalls, m.AuthRejected, m.BadFrames, m.Backpressure)
	fmt.Fprintf(b, "collect: %d acks sent, %d re-sent commands dropped, %d anonymous connections upgraded to a login, %d login lapses\n",
		m.Acks, m.Resent, m.Upgrades, m.LoginLapses)
	fmt.Fprintf(b, "collect: HTTP %d requests, %d answered 412, %d held back by the breaker, %d failed, %d coverage checks skipped (no spare request budget)\n",
		m.HTTPRequests, m.HTTPRateLimited, m.HTTPRefused, m.HTTPFailed, m.HTTPSkipped)
	// Coverage: the estimated share of each room's danmaku that was stored.
	type roomCov struct {
		room    int64
		ratio   float64
		sampled bool
	}
	var low []roomCov
	var judged, arrived int64
	var rooms, estimated, sampled int
	var shares float64
	now := time.Now()
	for room, c := range col.Coverage() {
		rooms++
		judged += c.Judged.Load()
		arrived += c.Arrived.Load()
		shares += c.ConnectedShare(now)
		if c.Sampled.Load() {
			sampled++
		}
		if r, ok := c.Estimate(now); ok {
			estimated++
			if r < lowCoverage {
				low = append(low, roomCov{room, r, c.Sampled.Load()})
			}
		}
	}
	if judged > 0 {
		fmt.Fprintf(b, "collect: coverage (estimated from each room's danmaku history): %.1f%% of the history danmaku sent while connected arrived (%d of %d); rooms were connected %.1f%% of the time they were wanted; %d of %d rooms have an estimate (±0.10), %d sampled (anonymous or throttled)\n",
			100*float64(arrived)/float64(judged), arrived, judged, 100*shares/float64(rooms), estimated, rooms, sampled)
	} else {
		fmt.Fprintf(b, "collect: coverage: no estimate (no history danmaku could be checked)\n")
	}
	if len(low) > 0 {
		sort.Slice(low, func(i, j int) bool { return low[i].ratio < low[j].ratio })
		var names []string
		for i, l := range low {
			if i == 20 {
				names = append(names, fmt.Sprintf("… %d more", len(low)-20))
				break
			}
			names = append(names, fmt.Sprintf("%d %.0f%%", l.room, 100*l.ratio))
		}
		fmt.Fprintf(b, "collect: %d rooms below %.0f%% coverage: %s\n", len(low), 100*lowCoverage, strings.Join(names, ", "))
	}
	if m.AccountsOK == 0 {
		fmt.Fprintf(b, "collect: this run was anonymous: what is stored is a sample (about one message in ten in most rooms). Log in: danmakud login\n")
	}
	b.Flush()
}
