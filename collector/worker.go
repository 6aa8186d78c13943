package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/internal/descriptors"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// API is the HTTP side a worker needs; *roomsource.Client implements it.
type API interface {
	// DanmuInfoAs fetches a token bound to one identity: account i, or
	// anonymous for -1 (or when account i's login has lapsed; the
	// returned Identity says which). The auth packet must carry exactly
	// that identity.
	DanmuInfoAs(ctx context.Context, roomID int64, account int) (roomsource.DanmuInfo, error)
	URL(d roomsource.DanmuInfo, i int) string
	// History is the watchdog's background request; it should not wait
	// for budget that reconnects need (roomsource's fails at once with
	// ErrNoSpareBudget instead).
	History(ctx context.Context, roomID int64) ([]roomsource.HistoryItem, error)
	// Login re-checks account i's login (nav); a worker calls it after a
	// connection was cut right after auth, the sign of an identity problem
	// (docs/protocol.md §10.2), so that a lapsed login is not used again.
	Login(ctx context.Context, account int) (mid int64, err error)
}

// Config configures a Collector. Zero durations mean the defaults.
type Config struct {
	API API
	// Out is the writer's input. The collector sends on it (the decode
	// stage and discovery rounds; never a reader) and never closes it;
	// sends give up only when Hard is done.
	Out  chan<- storage.Record
	Hard context.Context
	// Journal is where readers put what they read (required); Decode
	// reads it. RunID is this run's id, as the journal's segments record
	// it: frames of other runs are replayed without their connection.
	Journal *journal.Journal
	RunID   int64
	// MaxRooms caps the rooms watched at once (0: no cap): the given
	// rooms first, then by rank. A run sets it from its descriptor budget.
	MaxRooms int

	// Accounts is how many logins the API has (roomsource.Config.Accounts);
	// 0 = every room is watched anonymously.
	Accounts int
	// RoomsPerAccount is each account's budget of concurrent rooms;
	// default DefaultRoomsPerAccount. Rooms beyond every budget are
	// watched anonymously and marked sampled, or with LoggedInOnly not at
	// all until a slot frees up.
	RoomsPerAccount int
	LoggedInOnly    bool

	// SourceAddr, when valid, is the local address every danmaku
	// connection leaves from (protocol.SessionConfig.LocalAddr).
	SourceAddr netip.Addr

	Protover          int           // default 3
	UserAgent         string        // sent on the WebSocket upgrade
	HeartbeatInterval time.Duration // default 30s
	ReadTimeout       time.Duration // default 2 × HeartbeatInterval
	DrainTimeout      time.Duration // default 5s
	BackoffMin        time.Duration // default 1s
	BackoffMax        time.Duration // default 2m
	// HealthyAfter: a session authenticated this long resets the backoff
	// and the next connect reuses its token; default 5s. Up to
	// maxQuickRetries shorter sessions in a row count as healthy too,
	// unless cut within cutAfterAuth of the auth (docs/protocol.md §10.2: an
	// identity problem), which gets a new token and a growing wait.
	HealthyAfter time.Duration
	// TokenMaxAge: a token younger than this is reused for a reconnect
	// after a healthy session; default 2m.
	TokenMaxAge time.Duration
	// Spread: first connects are spread over this window by an offset
	// derived from the room id; default 10s.
	Spread time.Duration
	// WatchEvery is the longest interval between two coverage checks of a
	// room (gethistory against what arrived); busy rooms are checked more
	// often, down to WatchMin. Default 60s; negative disables the checks.
	WatchEvery time.Duration
	// WatchMin is the shortest interval between checks; default 10s
	// (capped by WatchEvery).
	WatchMin time.Duration
	// RateLimitWait is the least a worker waits after a 412 (the client's
	// breaker pauses every request meanwhile); default 30s.
	RateLimitWait time.Duration
	// Raw also stores every command body as received (storage.Raw).
	Raw bool
	// NoAck leaves support_ack out of the auth packet and sends no acks.
	NoAck bool
	// StarveRatio: a connection that should get everything but shows less
	// than this share of the history is low; default 0.5.
	StarveRatio float64
	Logger      *slog.Logger
	// Observer is told what the workers do (rooms, events, sessions,
	// reconnects by reason, coverage per room); nil: nobody.
	Observer Observer
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
		c.HealthyAfter = 5 * time.Second
	}
	if c.TokenMaxAge <= 0 {
		c.TokenMaxAge = 2 * time.Minute
	}
	if c.Spread <= 0 {
		c.Spread = 10 * time.Second
	}
	if c.WatchEvery == 0 {
		c.WatchEvery = time.Minute
	}
	if c.WatchMin <= 0 {
		c.WatchMin = watchMin
	}
	if c.WatchEvery > 0 {
		c.WatchMin = min(c.WatchMin, c.WatchEvery)
	}
	if c.RateLimitWait <= 0 {
		c.RateLimitWait = 30 * time.Second
	}
	if c.StarveRatio <= 0 {
		c.StarveRatio = 0.5
	}
	if c.RoomsPerAccount <= 0 {
		c.RoomsPerAccount = DefaultRoomsPerAccount
	}
	if c.Hard == nil {
		c.Hard = context.Background()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Collector runs one worker per wanted room.
type Collector struct {
	dec   *decoder
	watch *watchScheduler
	cfg   Config
	seq   atomic.Int64
	pool  *accountPool
	cov   sync.Map // room id → *CoverageCount
	board statusBoard
}

// New returns a Collector.
func New(cfg Config) *Collector {
	cfg.defaults()
	c := &Collector{cfg: cfg, pool: newAccountPool(cfg.Accounts, cfg.RoomsPerAccount)}
	c.dec = newDecoder(c)
	c.watch = newWatchScheduler()
	return c
}

// Coverage returns each room's running coverage count (rooms watched so
// far in this run). The counts keep changing while the collector runs.
func (c *Collector) Coverage() map[int64]*CoverageCount {
	out := map[int64]*CoverageCount{}
	c.cov.Range(func(k, v any) bool {
		out[k.(int64)] = v.(*CoverageCount)
		return true
	})
	return out
}

func (c *Collector) coverageOf(room int64) *CoverageCount {
	v, _ := c.cov.LoadOrStore(room, &CoverageCount{})
	return v.(*CoverageCount)
}

// SetLoginLapsed tells the collector that account i's login has lapsed
// (or is back): a lapsed account takes no new rooms; its rooms continue
// as anonymous (the API hands out anonymous tokens for it).
func (c *Collector) SetLoginLapsed(i int, lapsed bool) {
	if i >= 0 && i < c.pool.accounts() {
		c.pool.setLapsed(i, lapsed)
	}
}

// Run applies discovery rounds until ctx is done, then stops every worker
// (each drains its connection) and returns. It records each round's room
// snapshots and metadata.
func (c *Collector) Run(ctx context.Context, rounds <-chan roomsource.Round) {
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { defer close(watched); c.watch.run(watchCtx) }()
	sup := NewSupervisor(func(t roomsource.Target) Runner { return c.newWorker(t) }, c.cfg.Logger)
	sup.Run(ctx, rounds, c.recordRound)
	stopWatch() // every worker has stopped: no connection is left to check
	<-watched
}

func (c *Collector) recordRound(r roomsource.Round) []roomsource.Target {
	at := r.At.UnixMilli()
	ids := make([]int64, len(r.Rooms))
	for i, t := range r.Rooms {
		ids[i] = t.RoomID
	}
	c.cfg.Observer.SetDesired(ids)
	for _, t := range r.Rooms {
		c.send(storage.Snapshot{Round: r.N, AtMs: at, RoomID: t.RoomID, Rank: t.Rank, Online: t.Room.Online,
			Watched: t.Room.Watched.Num, Desired: true, Fixed: t.Fixed, Absent: t.Absent})
		if t.Room.RoomID != 0 {
			m := t.Room
			c.send(storage.RoomMeta{RoomID: m.RoomID, AnchorUID: m.UID, AnchorName: m.Uname, Title: m.Title, AreaID: m.AreaID,
				AreaName: m.AreaName, ParentAreaID: m.ParentID, ParentAreaName: m.ParentName, SeenMs: at})
		}
	}
	rooms, over := capRooms(r.Rooms, c.cfg.MaxRooms)
	c.cfg.Observer.RoomsOverBudget(over)
	c.board.round(r, rooms)
	return rooms
}

// capRooms keeps at most max of the desired rooms (max ≤ 0: all): the
// given rooms first, then the listed ones by rank, then those kept by
// hysteresis. It returns them and how many did not fit.
func capRooms(desired []roomsource.Target, max int) ([]roomsource.Target, int) {
	if max <= 0 || len(desired) <= max {
		return desired, 0
	}
	order := slices.Clone(desired)
	rankKey := func(t roomsource.Target) int {
		if t.Rank > 0 {
			return t.Rank
		}
		return math.MaxInt
	}
	slices.SortStableFunc(order, func(a, b roomsource.Target) int {
		if a.Fixed != b.Fixed {
			if a.Fixed {
				return -1
			}
			return 1
		}
		return cmp.Compare(rankKey(a), rankKey(b))
	})
	return order[:max], len(desired) - max
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
	c.cfg.Observer.Backpressure()
	select {
	case c.cfg.Out <- r:
		return true
	case <-c.cfg.Hard.Done():
		return false
	}
}

// worker watches one room. Its fields are owned by its Run goroutine,
// except cov's judged map (its running session's watchdog, one at a time).
type worker struct {
	c       *Collector
	t       roomsource.Target
	log     *slog.Logger
	rng     *rand.Rand
	account int                   // pool slot held, -1 = none (anonymous)
	info    *roomsource.DanmuInfo // last token, reused after a healthy session
	cov     *roomCoverage
	low     lowPolicy
	msgIDs  msgIDs
}

func (c *Collector) newWorker(t roomsource.Target) *worker {
	return &worker{c: c, t: t, log: c.cfg.Logger.With("room_id", t.RoomID), account: -1,
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

// cutAfterAuth: a connection closed sooner than this after its auth reply
// was cut for its identity (docs/protocol.md §10.2), not by a network blip.
const cutAfterAuth = time.Second

// maxQuickRetries: this many drops in a row of sessions shorter than
// HealthyAfter (but not cut right after auth) are answered at once; more
// mean a server that keeps cutting, and the backoff grows.
const maxQuickRetries = 3

// slotWait is how often a room without an account slot (LoggedInOnly)
// looks for one.
const slotWait = 5 * time.Second

// Run is the worker loop: token → dial → auth → reader/heartbeat pair →
// wait → again, until ctx is done.
func (w *worker) Run(ctx context.Context) {
	cfg := &w.c.cfg
	w.cov = newRoomCoverage(time.Now(), w.c.coverageOf(w.t.RoomID))
	w.cov.totals.wantedFrom(time.Now())
	defer func() { w.c.pool.release(w.account); w.cov.totals.wantedUntil(time.Now()) }()
	if !sleep(ctx, spreadOffset(w.t.RoomID, cfg.Spread)) {
		return
	}
	if !w.takeSlot(ctx) {
		return
	}
	bo := newRetryPolicy(cfg, w.rng)
	failures, short := 0, 0
	for host := 0; ; host++ {
		authed, err := w.session(ctx, host)
		if ctx.Err() != nil {
			return
		}
		cfg.Observer.Reconnect(reasonLabel(ctx, err))
		w.c.board.ended(w.t.RoomID, reason(ctx, err))
		// A session that stayed up HealthyAfter is healthy. A shorter one
		// that was not cut right after its auth (an identity problem,
		// §10.2) is a plain drop: the first maxQuickRetries of those in a
		// row are answered at once with the same token, more back off.
		switch {
		case authed >= cfg.HealthyAfter:
			short = 0
		case authed >= cutAfterAuth:
			short++
		}
		healthy := authed >= cfg.HealthyAfter || (authed >= cutAfterAuth && short <= maxQuickRetries)
		if healthy {
			if failures > 0 {
				w.log.Info("room recovered", "after_failures", failures)
			}
			bo.reset()
			failures = 0
		} else {
			w.info = nil // cut soon after auth, or never authenticated: new token
			if authed > 0 && authed < cutAfterAuth && w.account >= 0 {
				_, _ = cfg.API.Login(ctx, w.account) // lapsed? then the next token is anonymous
			}
		}
		if errors.Is(err, errUpgrade) {
			w.info = nil
			if !w.takeSlot(ctx) {
				return
			}
		}
		wait := bo.next(err, healthy)
		if !healthy {
			failures++
			if failures == 1 || failures%20 == 0 {
				w.log.Warn("session ended", "err", err, "retry_in", wait.Round(time.Millisecond), "failures", failures)
			}
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// takeSlot gets an account slot when one is free. Without one the room is
// watched anonymously — or, with LoggedInOnly, not until a slot frees up.
// It returns false when ctx ended while waiting.
func (w *worker) takeSlot(ctx context.Context) bool {
	cfg := &w.c.cfg
	if w.account >= 0 || cfg.Accounts == 0 {
		return true
	}
	w.account = w.c.pool.acquire()
	if w.account >= 0 || !cfg.LoggedInOnly {
		return true
	}
	cfg.Observer.RoomWaiting(1)
	defer cfg.Observer.RoomWaiting(-1)
	defer w.c.board.waiting(w.t.RoomID)()
	w.log.Info("every account's room budget is used; waiting for a slot (--logged-in-only)")
	for w.account < 0 {
		if !sleep(ctx, slotWait) {
			return false
		}
		w.account = w.c.pool.acquire()
	}
	return true
}

// token returns the token to dial with: the last one while it is young
// and its session was healthy (a quick reconnect needs no request),
// otherwise a new one for the worker's identity.
func (w *worker) token(ctx context.Context) (roomsource.DanmuInfo, error) {
	cfg := &w.c.cfg
	if w.info != nil && time.Since(w.info.FetchedAt) < cfg.TokenMaxAge {
		cfg.Observer.TokenReuse()
		return *w.info, nil
	}
	w.info = nil
	info, err := cfg.API.DanmuInfoAs(ctx, w.t.RoomID, w.account)
	if err != nil {
		return info, err
	}
	w.info = &info
	return info, nil
}

// session runs one connection and reports how long it was authenticated
// (0 = never) and why it ended.
func (w *worker) session(ctx context.Context, host int) (authed time.Duration, err error) {
	cfg := &w.c.cfg
	st := &connState{base: storage.Conn{Seq: w.c.seq.Add(1), RoomID: w.t.RoomID, StartedMs: time.Now().UnixMilli()}}
	defer func() {
		r := st.record()
		r.EndedMs = time.Now().UnixMilli()
		r.EndReason = reason(ctx, err)
		w.c.journalConn(r) // after the connection's last frame
	}()
	// The token request and the handshake run on a goroutine of their own:
	// that code grows a stack several times what reading needs, and a
	// goroutine keeps its largest stack, so this one — the room's reader
	// for hours — stays small (thousands of rooms: megabytes).
	var sess *protocol.Session
	var known bool
	dialed := make(chan struct{})
	go func() { defer close(dialed); sess, known, err = w.dial(ctx, host, st) }()
	<-dialed
	if err != nil {
		return 0, err
	}
	st.base.AuthedMs = sess.AuthedAt.UnixMilli()
	cc := &connCtx{st: st, seen: w.cov.seen, ids: &w.msgIDs}
	if !cfg.NoAck {
		cc.ack = sess
	}
	w.c.dec.register(uint32(st.base.Seq), cc)
	w.c.journalConn(st.record())
	w.cov.connSince = sess.AuthedAt.Unix()
	w.cov.totals.connectedFrom(sess.AuthedAt)
	defer func() { w.cov.totals.connectedUntil(time.Now()) }()
	w.cov.totals.Sampled.Store(st.sampled.Load())
	cfg.Observer.Session(known)
	cfg.Observer.RoomConnected(w.t.RoomID, true)
	defer cfg.Observer.RoomConnected(w.t.RoomID, false)
	cfg.Observer.SetRoomSampled(w.t.RoomID, st.sampled.Load())
	defer w.c.board.connected(w.t.RoomID, st)()
	return w.read(ctx, sess, st, known)
}

// read runs an authenticated session: its reader journals every frame
// as received and never waits for anything else (decoding and the
// database are the decode stage's); the watchdog checks the coverage.
func (w *worker) read(ctx context.Context, sess *protocol.Session, st *connState, known bool) (authed time.Duration, err error) {
	cfg := &w.c.cfg
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.WatchEvery > 0 {
		wd := &watchdog{w: w, cancel: cancel, sess: sess, st: st, known: known, every: firstCheck(cfg)}
		it := w.c.watch.add(runCtx, wd, wd.every)
		defer w.c.watch.remove(it) // after cancel: a running check ends with the connection
	}
	rec := journal.Record{Kind: journal.KindFrame, Conn: uint32(st.base.Seq), Room: w.t.RoomID}
	err = sess.Run(runCtx, func(msg []byte) {
		st.frames.Add(1)
		st.bytes.Add(int64(len(msg)))
		cfg.Observer.Frame()
		rec.RecvMs, rec.Data = time.Now().UnixMilli(), msg
		if cfg.Journal.Append(&rec) == nil {
			st.journaled.Add(1)
		}
	})
	cancel(nil)
	authed = time.Since(sess.AuthedAt)
	switch cause := context.Cause(runCtx); {
	case ctx.Err() != nil:
	case errors.Is(cause, errStarved):
		cfg.Observer.WatchdogRecycle()
		return authed, errStarved
	case errors.Is(cause, errUpgrade):
		cfg.Observer.Upgrade()
		return authed, errUpgrade
	}
	if errors.Is(err, protocol.ErrStalled) {
		cfg.Observer.Stall()
	}
	return authed, err
}

// dial fetches a token (or reuses one) and connects and authenticates
// with it, filling st's identity and host.
func (w *worker) dial(ctx context.Context, host int, st *connState) (sess *protocol.Session, known bool, err error) {
	cfg := &w.c.cfg
	info, err := w.token(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("token: %w", err)
	}
	id := info.Identity
	st.base.UID = id.Mid
	st.base.Anonymous = id.Mid == 0
	known = st.base.Anonymous // a known sample: never recycled for being one
	st.sampled.Store(known || w.low.sampled)
	u := cfg.API.URL(info, host)
	if pu, perr := url.Parse(u); perr == nil {
		st.base.Host = pu.Host
	}
	sess, err = protocol.Dial(ctx, protocol.SessionConfig{
		URL: u, RoomID: w.t.RoomID, UID: id.Mid, Key: info.Token, Buvid: id.Buvid, Protover: cfg.Protover,
		SupportAck: !cfg.NoAck, UserAgent: cfg.UserAgent, HeartbeatInterval: cfg.HeartbeatInterval,
		ReadTimeout: cfg.ReadTimeout, DrainTimeout: cfg.DrainTimeout, LocalAddr: cfg.SourceAddr,
	})
	if err != nil && errors.Is(err, protocol.ErrAuthRejected) {
		cfg.Observer.AuthRejected()
	}
	return sess, known, err
}

// reason is the connections.end_reason for err.
func reason(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "stopped"
	case errors.Is(err, errStarved):
		return "starved"
	case errors.Is(err, errUpgrade):
		return "upgraded"
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
	case descriptors.Exhausted(err): // a budget problem, not the room's
		return "descriptors"
	case err != nil:
		return "error: " + err.Error()
	}
	return "ended"
}

// reasonLabel is reason as Observer.Reconnect reports it: errors without
// a name of their own are "error" (an error's text would make metric
// labels unbounded).
func reasonLabel(ctx context.Context, err error) string {
	if r := reason(ctx, err); !strings.HasPrefix(r, "error: ") {
		return r
	}
	return "error"
}
