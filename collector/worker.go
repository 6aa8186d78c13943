package collector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// API is the HTTP side a worker needs; *roomsource.Client implements it.
type API interface {
	DanmuInfo(ctx context.Context, roomID int64) (roomsource.DanmuInfo, error)
	Identity() (buvid string, mid int64)
	URL(d roomsource.DanmuInfo, i int) string
	// History is the watchdog's background request; it should not wait
	// for budget that reconnects need (roomsource's fails at once with
	// ErrNoSpareBudget instead).
	History(ctx context.Context, roomID int64) ([]roomsource.HistoryItem, error)
}

// Config configures a Collector. Zero durations mean the defaults.
type Config struct {
	API API
	// Out is the writer's input. The collector sends on it and never
	// closes it; sends give up only when Hard is done.
	Out  chan<- storage.Record
	Hard context.Context

	Protover          int           // default 3
	UserAgent         string        // sent on the WebSocket upgrade
	HeartbeatInterval time.Duration // default 30s
	ReadTimeout       time.Duration // default 2 × HeartbeatInterval
	DrainTimeout      time.Duration // default 5s
	BackoffMin        time.Duration // default 1s
	BackoffMax        time.Duration // default 2m
	// HealthyAfter: a session authenticated this long resets the backoff;
	// default 60s.
	HealthyAfter time.Duration
	// Spread: first connects are spread over this window by an offset
	// derived from the room id; default 10s.
	Spread time.Duration
	// WatchEvery is how often the starvation watchdog compares the room's
	// history with what arrived; default 60s; negative disables it.
	WatchEvery time.Duration
	// RateLimitWait is the least a worker waits after a 412 (the client's
	// breaker pauses every request meanwhile); default 30s.
	RateLimitWait time.Duration
	// Raw also stores every command body as received (storage.Raw).
	Raw bool
	// StarveRatio: more than this fraction of the history missing means a
	// starved connection; default 0.5.
	StarveRatio float64
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.Protover == 0 {
		c.Protover = 3
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = protocol.DefaultHeartbeatInterval
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 2 * c.HeartbeatInterval
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = protocol.DefaultDrainTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 2 * time.Minute
	}
	if c.HealthyAfter <= 0 {
		c.HealthyAfter = time.Minute
	}
	if c.Spread <= 0 {
		c.Spread = 10 * time.Second
	}
	if c.WatchEvery == 0 {
		c.WatchEvery = time.Minute
	}
	if c.RateLimitWait <= 0 {
		c.RateLimitWait = 30 * time.Second
	}
	if c.StarveRatio <= 0 {
		c.StarveRatio = 0.5
	}
	if c.Hard == nil {
		c.Hard = context.Background()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Metrics are running totals for progress lines and the summary.
type Metrics struct {
	Connected  atomic.Int64 // sessions authenticated now
	Sessions   atomic.Int64 // sessions authenticated in total
	Reconnects atomic.Int64 // sessions that ended while the room was still wanted
	Events     atomic.Int64
	Frames     atomic.Int64
	BadFrames  atomic.Int64
	Starved    atomic.Int64
	Stalled    atomic.Int64
	AuthFailed atomic.Int64
	Blocked    atomic.Int64 // sends that had to wait for the writer (backpressure)
}

// Collector runs one worker per wanted room.
type Collector struct {
	cfg     Config
	Metrics Metrics
	seq     atomic.Int64
}

// New returns a Collector.
func New(cfg Config) *Collector {
	cfg.defaults()
	return &Collector{cfg: cfg}
}

// Run applies discovery rounds until ctx is done, then stops every worker
// (each drains its connection) and returns. It records each round's room
// snapshots and metadata.
func (c *Collector) Run(ctx context.Context, rounds <-chan roomsource.Round) {
	sup := NewSupervisor(func(t roomsource.Target) Runner { return c.newWorker(t) }, c.cfg.Logger)
	sup.Run(ctx, rounds, c.recordRound)
}

func (c *Collector) recordRound(r roomsource.Round) {
	at := r.At.UnixMilli()
	for _, t := range r.Rooms {
		c.send(storage.Snapshot{Round: r.N, AtMs: at, RoomID: t.RoomID, Rank: t.Rank, Online: t.Room.Online,
			Watched: t.Room.Watched.Num, Desired: true, Fixed: t.Fixed, Absent: t.Absent})
		if t.Room.RoomID != 0 {
			m := t.Room
			c.send(storage.RoomMeta{RoomID: m.RoomID, AnchorUID: m.UID, AnchorName: m.Uname, Title: m.Title, AreaID: m.AreaID,
				AreaName: m.AreaName, ParentAreaID: m.ParentID, ParentAreaName: m.ParentName, SeenMs: at})
		}
	}
}

// send hands a record to the writer. It blocks while the writer's channel
// is full (backpressure: readers slow down, nothing is dropped) and gives
// up only when the hard-stop context ends.
func (c *Collector) send(r storage.Record) bool {
	select {
	case c.cfg.Out <- r:
		return true
	default:
	}
	c.Metrics.Blocked.Add(1)
	select {
	case c.cfg.Out <- r:
		return true
	case <-c.cfg.Hard.Done():
		return false
	}
}

// errHardStop ends message handling when the writer is gone.
var errHardStop = errors.New("hard stop")

// frameDecoders are shared by every connection: a decoder (brotli and
// zlib state, inflate buffers, JSON parsers: about 60 KB once warm) is
// only busy while one message is decoded, so a few serve thousands of
// connections. A message is self-contained, so nothing carries over from
// one message to the next, and decoded events own their memory.
var frameDecoders = sync.Pool{New: func() any { return new(protocol.FrameDecoder) }}

// errStarved is the cancel cause when the watchdog recycles a connection.
var errStarved = errors.New("starved: far fewer messages than the room's history shows")

type worker struct {
	c   *Collector
	t   roomsource.Target
	log *slog.Logger
	rng *rand.Rand
}

func (c *Collector) newWorker(t roomsource.Target) *worker {
	return &worker{c: c, t: t, log: c.cfg.Logger.With("room_id", t.RoomID),
		rng: rand.New(rand.NewPCG(uint64(t.RoomID), uint64(time.Now().UnixNano())))}
}

// spreadOffset places a room's first connect in [0, window) by its id, so
// a restart of 100 rooms does not dial them all at once.
func spreadOffset(room int64, window time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(room, 10)))
	return time.Duration(h.Sum64() % uint64(window))
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Run is the worker loop: fresh token → dial → auth → reader/heartbeat
// pair → wait → again, until ctx is done.
func (w *worker) Run(ctx context.Context) {
	cfg := &w.c.cfg
	if !sleep(ctx, spreadOffset(w.t.RoomID, cfg.Spread)) {
		return
	}
	bo := newBackoff(cfg, w.rng)
	failures := 0
	for host := 0; ; host++ {
		healthy, err := w.session(ctx, host)
		if ctx.Err() != nil {
			return
		}
		w.c.Metrics.Reconnects.Add(1)
		if healthy {
			if failures > 0 {
				w.log.Info("room recovered", "after_failures", failures)
			}
			bo.reset()
			failures = 0
		}
		wait := bo.next(err)
		failures++
		if failures == 1 || failures%20 == 0 {
			w.log.Warn("session ended", "err", err, "retry_in", wait.Round(time.Millisecond), "failures", failures)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// backoff picks the wait before a worker's next attempt: exponential,
// jittered (uniform in [d/2, d]), capped, reset after a healthy session;
// the error decides: at least RateLimitWait after a 412, the cap for a
// missing room, the minimum (without growing) after a starvation recycle.
type backoff struct {
	min, max, rateLimit time.Duration
	cur                 time.Duration
	rng                 *rand.Rand
}

func newBackoff(cfg *Config, rng *rand.Rand) *backoff {
	return &backoff{min: cfg.BackoffMin, max: cfg.BackoffMax, rateLimit: cfg.RateLimitWait, cur: cfg.BackoffMin, rng: rng}
}

func (b *backoff) reset() { b.cur = b.min }

func (b *backoff) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(b.rng.Int64N(int64(d/2)+1))
}

func (b *backoff) next(err error) time.Duration {
	d := b.cur
	switch {
	case errors.Is(err, errStarved):
		return b.jitter(b.min) // not the room's fault: no growth
	case errors.Is(err, roomsource.ErrRateLimited), errors.Is(err, roomsource.ErrBreakerOpen):
		d = max(d, b.rateLimit)
	case errors.Is(err, roomsource.ErrRoomNotFound):
		d = b.max
	}
	b.cur = min(2*b.cur, b.max)
	return b.jitter(d)
}

// session runs one connection and reports whether it was healthy (up for
// HealthyAfter) and why it ended.
func (w *worker) session(ctx context.Context, host int) (healthy bool, err error) {
	cfg := &w.c.cfg
	rec := storage.Conn{Seq: w.c.seq.Add(1), RoomID: w.t.RoomID, StartedMs: time.Now().UnixMilli()}
	defer func() {
		rec.EndedMs = time.Now().UnixMilli()
		rec.EndReason = reason(ctx, err)
		w.c.send(rec)
	}()
	info, err := cfg.API.DanmuInfo(ctx, w.t.RoomID)
	if err != nil {
		return false, fmt.Errorf("token: %w", err)
	}
	buvid, mid := cfg.API.Identity()
	u := cfg.API.URL(info, host)
	if pu, perr := url.Parse(u); perr == nil {
		rec.Host = pu.Host
	}
	sess, err := protocol.Dial(ctx, protocol.SessionConfig{
		URL: u, RoomID: w.t.RoomID, UID: mid, Key: info.Token, Buvid: buvid, Protover: cfg.Protover,
		UserAgent: cfg.UserAgent, HeartbeatInterval: cfg.HeartbeatInterval, ReadTimeout: cfg.ReadTimeout,
		DrainTimeout: cfg.DrainTimeout,
	})
	if err != nil {
		if errors.Is(err, protocol.ErrAuthRejected) {
			w.c.Metrics.AuthFailed.Add(1)
		}
		return false, err
	}
	rec.AuthedMs = sess.AuthedAt.UnixMilli()
	w.c.send(rec)
	w.c.Metrics.Connected.Add(1)
	w.c.Metrics.Sessions.Add(1)
	defer w.c.Metrics.Connected.Add(-1)

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	seen := &seenSet{m: map[string]int64{}}
	var wg sync.WaitGroup
	if cfg.WatchEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watchdog(runCtx, cancel, sess.AuthedAt, seen)
		}()
	}
	var evs []protocol.Event
	malformed := func(now int64, reason error, body []byte) {
		rec.Bad++
		w.c.Metrics.BadFrames.Add(1)
		w.c.send(storage.Malformed{RoomID: w.t.RoomID, RecvMs: now, Reason: reason.Error(), Body: append([]byte(nil), body...)})
	}
	err = sess.Run(runCtx, func(msg []byte) {
		now := time.Now().UnixMilli()
		rec.Frames++
		rec.Bytes += int64(len(msg))
		w.c.Metrics.Frames.Add(1)
		fd := frameDecoders.Get().(*protocol.FrameDecoder)
		defer frameDecoders.Put(fd)
		ferr := fd.Packets.DecodeMessage(msg, func(p *protocol.Packet) error {
			var cerr error
			evs, cerr = fd.PacketEvents(evs[:0], p, w.t.RoomID)
			if cerr != nil {
				var ce *protocol.CommandError
				body := p.Body
				if errors.As(cerr, &ce) {
					body = ce.Body
				}
				malformed(now, cerr, body)
				return nil
			}
			if cfg.Raw && p.Op == protocol.OpMessage && len(evs) > 0 {
				w.c.send(storage.Raw{RoomID: w.t.RoomID, RecvMs: now, Cmd: evs[0].Common().Cmd, Body: append([]byte(nil), p.Body...)})
			}
			for _, e := range evs {
				if d, ok := e.(*protocol.Danmaku); ok {
					seen.add(strconv.FormatInt(d.CheckTs, 10)+":"+d.CheckCt, now)
				}
				if _, ok := e.(*protocol.Control); ok {
					continue
				}
				if !w.c.send(storage.Event{E: e, RecvMs: now}) {
					return errHardStop
				}
				rec.Events++
				w.c.Metrics.Events.Add(1)
			}
			return nil
		})
		if ferr != nil && !errors.Is(ferr, errHardStop) {
			malformed(now, ferr, msg)
		}
	})
	cancel(nil)
	wg.Wait()
	healthy = time.Since(sess.AuthedAt) >= cfg.HealthyAfter
	if cause := context.Cause(runCtx); errors.Is(cause, errStarved) && ctx.Err() == nil {
		w.c.Metrics.Starved.Add(1)
		return healthy, errStarved
	}
	if errors.Is(err, protocol.ErrStalled) {
		w.c.Metrics.Stalled.Add(1)
	}
	return healthy, err
}

// reason is the connections.end_reason for err.
func reason(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "stopped"
	case errors.Is(err, errStarved):
		return "starved"
	case errors.Is(err, protocol.ErrStalled):
		return "stalled"
	case errors.Is(err, protocol.ErrAuthRejected):
		return "auth_rejected"
	case errors.Is(err, protocol.ErrServerClosed):
		return "server_closed"
	case errors.Is(err, roomsource.ErrRateLimited), errors.Is(err, roomsource.ErrBreakerOpen):
		return "rate_limited"
	case errors.Is(err, roomsource.ErrRoomNotFound):
		return "room_not_found"
	case err != nil:
		return "error: " + err.Error()
	}
	return "ended"
}

// seenSet remembers the danmaku a connection received (by check ts:ct),
// for the watchdog. Safe for concurrent use.
type seenSet struct {
	mu sync.Mutex
	m  map[string]int64 // key → recv ms
}

func (s *seenSet) add(k string, now int64) {
	s.mu.Lock()
	s.m[k] = now
	s.mu.Unlock()
}

func (s *seenSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	return ok
}

func (s *seenSet) prune(before int64) {
	s.mu.Lock()
	for k, t := range s.m {
		if t < before {
			delete(s.m, k)
		}
	}
	s.mu.Unlock()
}

// watchSettle is how long the watchdog waits after fetching the history
// before checking that its danmaku arrived.
const watchSettle = 3 * time.Second

// watchMemory is how long a connection remembers the danmaku it received
// (for the watchdog). It bounds memory: busy rooms' histories span
// seconds, and quiet rooms with fewer than 3 danmaku in it get no
// verdict.
const watchMemory = 30 * time.Second

// watchdog compares the room's recent history (what Bilibili says was
// sent) with what this connection received. A connection that misses
// more than StarveRatio of it is silently throttled: it is recycled with
// a fresh token.
func (w *worker) watchdog(ctx context.Context, cancel context.CancelCauseFunc, authed time.Time, seen *seenSet) {
	cfg := &w.c.cfg
	t := time.NewTicker(cfg.WatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fetched := time.Now()
		hist, err := cfg.API.History(ctx, w.t.RoomID)
		if err != nil {
			// No verdict without evidence; ErrNoSpareBudget (the limiter
			// is busy with reconnects or discovery) lands here too.
			continue
		}
		if !sleep(ctx, watchSettle) {
			return
		}
		// Arrivals are remembered for watchMemory; judge only history
		// items recent enough to be in that memory.
		seen.prune(time.Now().Add(-watchMemory - watchSettle).UnixMilli())
		since := max(authed.Unix(), fetched.Add(-watchMemory+5*time.Second).Unix())
		var considered, missing int
		for _, h := range hist {
			if h.CheckInfo.Ts <= since {
				continue // sent before this connection, or already judged
			}
			considered++
			if !seen.has(h.Key()) {
				missing++
			}
		}
		if considered >= 3 && float64(missing) > cfg.StarveRatio*float64(considered) {
			w.log.Warn("connection starved; recycling it", "missing", missing, "of", considered)
			cancel(errStarved)
			return
		}
	}
}
