package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/danmakud/danmakud/internal/sourceaddr"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// Config is one collection run. Zero values mean the defaults given,
// which are `danmakud collect`'s (except LockWait).
type Config struct {
	// DB is the SQLite file, created and migrated as needed. Required.
	// With strftime fields (%Y %m %d %H, in Bilibili's time, UTC+8: e.g.
	// data/danmakud-%Y%m%d.db) a new file starts at each period (%d a
	// day, %H an hour); each file holds its period's events, rooms, runs
	// and connections, and nothing received around a boundary is lost or
	// stored twice.
	DB string
	// Top watches the Top most popular live rooms, re-ranked every
	// Refresh; 0 watches only Rooms.
	Top int
	// Area ranks only this area's rooms (0 = all areas).
	Area int64
	// Rooms are watched too and never dropped (real or short ids).
	Rooms []int64
	// Shard makes this run shard K of N (collect --shard K/N): it keeps
	// only the rooms, listed or given, that roomsource.ShardOf gives to
	// K. The zero Shard watches every room.
	Shard roomsource.Shard
	// SourceAddr, when valid, is the local address every Bilibili
	// connection leaves from, HTTP and danmaku (collect --source-addr).
	// It must be this machine's (sourceaddr.Check).
	SourceAddr netip.Addr
	// Duration stops the run this long after Run was called (before any
	// wait for the lock, so back-to-back runs keep their slots); 0 = until
	// ctx ends.
	Duration time.Duration
	// FlushInterval: rows are committed this often; default 10s.
	FlushInterval time.Duration
	// Refresh: the top list is re-ranked this often; default 5m.
	Refresh time.Duration
	// APIBase sends every Bilibili HTTP request to this base URL (the
	// simulator's); "" = Bilibili.
	APIBase string
	// Accounts are the logins (roomsource.LoadAccounts); none = anonymous,
	// a ~10 % sample. Their cookies are never logged or stored.
	Accounts []*roomsource.Account
	// RoomsPerAccount is each account's budget of concurrent rooms;
	// default collector.DefaultRoomsPerAccount.
	RoomsPerAccount int
	// LoggedInOnly skips rooms beyond every budget (until a slot frees)
	// instead of watching them anonymously.
	LoggedInOnly bool
	// LockWait: if another collection holds DB, wait this long for it;
	// 0 = fail at once (Kind Locked).
	LockWait time.Duration
	// Watchdog is the longest interval between two coverage checks of a
	// room (busy rooms down to 10 s); default 1m; negative = no checks.
	Watchdog time.Duration
	// Heartbeat is the heartbeat interval; a connection silent for two is
	// dropped. Default 30s.
	Heartbeat time.Duration
	// HTTPRate is Bilibili HTTP requests per second, all endpoints
	// together; default 2 (burst twice that, at least 2).
	HTTPRate float64
	// FinalFlushTimeout bounds the final flush; default 1m.
	FinalFlushTimeout time.Duration
	// Raw also archives every command body as received (raw_messages).
	Raw bool
	// Kinds, when not empty, are the only kinds of event stored (as
	// storage.ParseKinds returns them; check normalises them): the others
	// are counted in unstored_events (storage.WriterOptions.Kinds).
	Kinds []string
	// MemoryLimit is the memory the run may use, in bytes: the Go
	// runtime's soft limit (unless GOMEMLIMIT is set) and the base of
	// every in-memory backlog bound (a backlog beyond them waits in the
	// journal on disk). Default a quarter of the machine's memory (three
	// quarters of a cgroup's limit when lower), at least 64 MiB.
	MemoryLimit int64
	// JournalMax bounds the frame journal beside the database
	// (JournalDir) in bytes: frames read and not yet stored. Past it new
	// frames are dropped, counted and logged; default 32 GiB.
	JournalMax int64
	// MetricsAddr serves Prometheus /metrics and /healthz there ("" =
	// off) once the database is ours. MetricsListener, when set, is used
	// instead (Run closes it); tests pass one on 127.0.0.1:0.
	MetricsAddr     string
	MetricsListener net.Listener
	// Pprof also serves Go's profiles under /debug/pprof/ on the metrics
	// address (net/http/pprof); off by default.
	Pprof bool
	// Logger receives the run's log (nil discards).
	Logger *slog.Logger
	// Version and Args are recorded in the runs table.
	Version, Args string
	// OnStopping, when set, is called once when the run has been told to
	// stop, while every worker still runs (collect --memprofile writes
	// a heap profile there). It must not block for long.
	OnStopping func()
	// Tuning holds timings that tests, the demo and load runs shorten.
	Tuning Tuning
}

// Tuning are the timings a normal run leaves at their defaults.
type Tuning struct {
	// Hysteresis: rounds a room may be absent from the top list before it
	// leaves (roomsource.Discovery's default when 0).
	Hysteresis int
	// Spread: first connects are spread over this window (collector
	// default when 0).
	Spread time.Duration
	// BackoffMin, BackoffMax and HealthyAfter: a room worker's reconnect
	// backoff (collector defaults when 0).
	BackoffMin, BackoffMax, HealthyAfter time.Duration
	// BreakerPause: how long HTTP requests stop after a 412, and the
	// least a worker waits after one (roomsource and collector defaults
	// when 0).
	BreakerPause time.Duration
	// LoginCheck: how often logins are re-checked; default 1h.
	LoginCheck time.Duration
	// PendingMax bounds the records the writer holds while flushes fail
	// (storage default when 0).
	PendingMax int
	// RotateEvery, with strftime fields in DB, starts a new file this
	// often instead of at the finest field's period (tests: seconds).
	RotateEvery time.Duration
	// KeepJournal keeps every journal segment instead of deleting those
	// stored (a test reads them to check what was read against what the
	// server sent; also forensics). The journal then grows to JournalMax.
	KeepJournal bool
}

// StartupPatience is how long Run keeps retrying an unreachable API at
// start before it fails (with a Duration, at most that long).
const StartupPatience = 10 * time.Minute

func (c *Config) defaults() {
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Second
	}
	if c.Refresh <= 0 {
		c.Refresh = 5 * time.Minute
	}
	if c.HTTPRate <= 0 {
		c.HTTPRate = 2
	}
	if c.FinalFlushTimeout <= 0 {
		c.FinalFlushTimeout = time.Minute
	}
	if c.Watchdog == 0 {
		c.Watchdog = time.Minute
	}
	if c.Tuning.LoginCheck <= 0 {
		c.Tuning.LoginCheck = time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// check reports a Config that cannot run (Kind Usage).
func (c *Config) check() error {
	switch {
	case c.DB == "":
		return usageErr(errors.New("daemon: no database file"))
	case c.Top < 0:
		return usageErr(errors.New("daemon: Top must be ≥ 0"))
	case c.Top == 0 && len(c.Rooms) == 0:
		return usageErr(errors.New("nothing to watch: no top rooms and no given room"))
	}
	for _, r := range c.Rooms {
		if r <= 0 {
			return usageErr(errors.New("daemon: room ids are positive integers"))
		}
	}
	if err := c.Shard.Check(); err != nil {
		return usageErr(fmt.Errorf("daemon: shard %w", err))
	}
	if c.SourceAddr.IsValid() {
		if err := sourceaddr.Check(c.SourceAddr); err != nil {
			return usageErr(fmt.Errorf("daemon: source address: %w", err))
		}
	}
	if len(c.Kinds) > 0 {
		kinds, err := storage.ParseKinds(c.Kinds)
		if err != nil {
			return usageErr(fmt.Errorf("daemon: Kinds: %w", err))
		}
		c.Kinds = kinds
	}
	return nil
}

// runInfo is what each of the run's files records about it (runs).
func (c *Config) runInfo() storage.RunInfo {
	return storage.RunInfo{Version: c.Version, Args: c.Args, Shard: c.Shard.String()}
}
