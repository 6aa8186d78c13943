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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/collector"
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
	cookieFile    string
	watchdog      time.Duration
	heartbeat     time.Duration
	httpRate      float64
	finalFlush    time.Duration
	memProfile    string
	cpuProfile    string
	raw           bool

	// set by demo and tests
	stdout, stderr io.Writer
	progress       bool
	hysteresis     int
	spread         time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	healthyAfter   time.Duration
	breakerPause   time.Duration
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
exits at once (status 130) without the final flush.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.progress = isTerminal(os.Stderr) && !o.quiet
			ctx, hard := signalContexts(cmd.Context())
			defer hard()
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
	f.StringVar(&o.cookieFile, "cookie-file", "", "file holding a SESSDATA login cookie (mode 0600); default anonymous")
	f.DurationVar(&o.watchdog, "watchdog", time.Minute, "compare each room's history with what arrived this often (0 = off)")
	f.DurationVar(&o.heartbeat, "heartbeat", 30*time.Second, "heartbeat interval; a silent connection is dropped after two")
	f.Float64Var(&o.httpRate, "http-rate", 2, "HTTP requests per second to Bilibili, all endpoints together")
	f.DurationVar(&o.finalFlush, "final-flush-timeout", time.Minute, "how long the final flush may take on shutdown")
	f.BoolVar(&o.raw, "raw", false, "also archive every command body as received (table raw_messages; ~2 KB per message)")
	f.StringVar(&o.memProfile, "memprofile", "", "write a heap profile here when collect is told to stop (before the workers stop)")
	_ = f.MarkHidden("memprofile")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// signalContexts returns ctx, cancelled by the first SIGINT/SIGTERM, and
// a hard-stop func; a second signal exits the process at once.
func signalContexts(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		cancel()
		if _, ok := <-ch; ok {
			fmt.Fprintln(os.Stderr, "danmakud: second signal: exiting without the final flush")
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); close(ch); cancel() }
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// readCookieFile returns the SESSDATA value from a cookie file: either a
// bare value or "SESSDATA=...", optionally among other cookies. The file
// must not be readable by group or others.
func readCookieFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("cookie file %s has mode %v: it holds a secret; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(string(b))
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == "SESSDATA" && v != "" {
			return v, nil
		}
	}
	if text != "" && !strings.ContainsAny(text, "=; \n") {
		return text, nil
	}
	return "", fmt.Errorf("cookie file %s: no SESSDATA in it", path)
}

func (o *collectOptions) validate() error {
	switch {
	case o.top < 0:
		return fmt.Errorf("--top must be ≥ 0")
	case o.top == 0 && len(o.rooms) == 0:
		return fmt.Errorf("nothing to watch: --top 0 and no --room")
	case o.flushInterval <= 0:
		return fmt.Errorf("--flush-interval must be > 0")
	case o.refresh <= 0:
		return fmt.Errorf("--refresh must be > 0")
	case o.duration < 0:
		return fmt.Errorf("--duration must be ≥ 0")
	case o.httpRate <= 0:
		return fmt.Errorf("--http-rate must be > 0")
	}
	for _, r := range o.rooms {
		if r <= 0 {
			return fmt.Errorf("bad room id %d: room ids are positive integers", r)
		}
	}
	return nil
}

// run is the whole collect lifecycle. Shutdown order: discovery stops,
// workers stop (each drains its connection), the record channel is
// closed by its owner (here), the writer flushes under its own timeout,
// the run is recorded, the database closed.
func (o *collectOptions) run(ctx context.Context, args string) error {
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
	log := slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level}))
	var sessdata string
	if o.cookieFile != "" {
		var err error
		if sessdata, err = readCookieFile(o.cookieFile); err != nil {
			return &exitError{exitUsage, err}
		}
	}
	db, err := storage.Open(o.db)
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return &exitError{exitLocked, fmt.Errorf("%s is in use by another collect (lock %s.lock); refusing to start", o.db, o.db)}
		}
		return &exitError{exitFailure, err}
	}
	defer db.Close()
	started := time.Now()
	runID, err := db.StartRun(ctx, version, args)
	if err != nil {
		return &exitError{exitFailure, err}
	}
	api, err := roomsource.New(roomsource.Config{APIBase: o.apiBase, Rate: o.httpRate, Burst: max(2, int(o.httpRate*2)),
		SESSDATA: sessdata, Logger: log, BreakerPause: o.breakerPause})
	if err != nil {
		return &exitError{exitUsage, err}
	}
	// Bootstrap (buvid3, WBI keys) is retried with a growing wait: a 412 or
	// a network blip at start should not end a daemon; a stop ends it.
	for wait := 5 * time.Second; ; wait = min(2*wait, 5*time.Minute) {
		err := api.Bootstrap(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil || (o.duration > 0 && time.Since(started) > o.duration) {
			_ = db.EndRun(context.Background(), runID, "bootstrap failed")
			return &exitError{exitFailure, fmt.Errorf("cannot reach the Bilibili API: %w", err)}
		}
		log.Warn("cannot reach the Bilibili API yet; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	var fixed []int64
	var metas []storage.RoomMeta
	for _, id := range o.rooms {
		ri, err := api.RoomInit(ctx, id)
		if err != nil {
			_ = db.EndRun(context.Background(), runID, "bad room")
			if errors.Is(err, roomsource.ErrRoomNotFound) {
				return &exitError{exitUsage, fmt.Errorf("--room %d: no such room", id)}
			}
			return &exitError{exitFailure, fmt.Errorf("--room %d: %w", id, err)}
		}
		fixed = append(fixed, ri.RoomID)
		metas = append(metas, storage.RoomMeta{RoomID: ri.RoomID, ShortID: ri.ShortID, AnchorUID: ri.UID, SeenMs: time.Now().UnixMilli()})
	}

	hardCtx, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	records := make(chan storage.Record, 65536)
	writer := storage.NewWriter(db, storage.WriterOptions{RunID: runID, FlushInterval: o.flushInterval, Logger: log})
	writerDone := make(chan error, 1)
	go func() { writerDone <- writer.Run(hardCtx, records) }()
	for _, m := range metas {
		records <- m
	}

	col := collector.New(collector.Config{
		API: api, Out: records, Hard: hardCtx, UserAgent: roomsource.DefaultUserAgent, Logger: log,
		HeartbeatInterval: o.heartbeat, WatchEvery: watchEvery(o.watchdog), Spread: o.spread, BackoffMin: o.backoffMin,
		BackoffMax: o.backoffMax, HealthyAfter: o.healthyAfter, RateLimitWait: o.breakerPause, Raw: o.raw,
	})
	runCtx := ctx
	if o.duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	start := time.Now()
	rounds := make(chan roomsource.Round, 1)
	disc := &roomsource.Discovery{Lister: api, Top: o.top, Area: o.area, Fixed: fixed, Refresh: o.refresh,
		Hysteresis: o.hysteresis, Logger: log}
	discCtx, stopDisc := context.WithCancel(runCtx)
	var discWG sync.WaitGroup
	discWG.Add(1)
	go func() { defer discWG.Done(); disc.Run(discCtx, rounds) }()
	progressDone := make(chan struct{})
	go o.progressLoop(runCtx, progressDone, col, writer, start)

	// Shutdown order: when runCtx ends, discovery stops first; only after
	// it has exited are the workers cancelled.
	workCtx, stopWork := context.WithCancel(context.Background())
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
	close(records) // we own it: every producer has stopped

	flushTimer := time.AfterFunc(o.finalFlush, hardStop)
	werr := <-writerDone
	flushTimer.Stop()
	status := "ok"
	if werr != nil {
		status = "final flush failed"
	}
	if err := db.EndRun(context.Background(), runID, status); err != nil && werr == nil {
		werr = err
	}
	o.summary(col, writer, api.Snapshot(), time.Since(start))
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
func (o *collectOptions) progressLoop(ctx context.Context, done chan<- struct{}, col *collector.Collector, w *storage.Writer, start time.Time) {
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
			m := &col.Metrics
			ev := m.Events.Load()
			rate := float64(ev-lastEv) / now.Sub(last).Seconds()
			lastEv, last = ev, now
			fmt.Fprintf(o.stderr, "\r%s  rooms connected %d  %.0f msg/s  rows written %d  reconnects %d  ",
				time.Since(start).Round(time.Second), m.Connected.Load(), rate, w.Stats.Rows.Load(), m.Reconnects.Load())
		}
	}
}

func (o *collectOptions) summary(col *collector.Collector, w *storage.Writer, h roomsource.Counts, took time.Duration) {
	m := &col.Metrics
	b := bufio.NewWriter(o.stderr)
	fmt.Fprintf(b, "collect: %s in %s: %d events (%.0f/s), %d rows written in %d flushes, %d duplicates ignored\n",
		o.db, took.Round(time.Millisecond), m.Events.Load(), float64(m.Events.Load())/took.Seconds(),
		w.Stats.Rows.Load(), w.Stats.Flushes.Load(), w.Stats.Dups.Load())
	fmt.Fprintf(b, "collect: %d sessions, %d reconnects, %d starved, %d stalled, %d auth failures, %d bad frames, %d waits on the writer\n",
		m.Sessions.Load(), m.Reconnects.Load(), m.Starved.Load(), m.Stalled.Load(), m.AuthFailed.Load(), m.BadFrames.Load(), m.Blocked.Load())
	fmt.Fprintf(b, "collect: HTTP %d requests, %d answered 412, %d held back by the breaker, %d failed, %d watchdog checks skipped (no spare request budget)\n",
		h.Requests, h.RateLimited, h.Refused, h.Fails, h.Skipped)
	b.Flush()
}
