package collector

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/internal/backoff"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// How coverage is measured.
//
// Bilibili sends a room's full stream only to logged-in connections within
// an account's budget; anonymous ones get a ~10 % sample (docs/protocol.md
// §10.1), silently. The room's own danmaku history (dM/gethistory, the
// last 10 danmaku the room sent) is the reference: each history item is
// judged once per room worker — did it arrive on one of the worker's
// connections? — and the share that arrived estimates the share of the
// room's danmaku that was stored. Items sent while no connection was up
// count as missed: that is coverage lost too.
//
// Nothing still inside this process counts as missed: before judging, the
// watchdog waits for Session.Sync (an extra heartbeat whose reply comes
// after everything the server sent before it, so every frame sent earlier
// has already been decoded), and only items older than watchSettle are
// judged (the server's sending lags its history by up to a tick).

// Watchdog timing.
const (
	// watchSettle: history items newer than this are left for the next
	// check (the server may not have sent them yet).
	watchSettle = 3 * time.Second
	// watchMin is the shortest interval between checks of one room; busy
	// rooms are checked this often so that few history items go unseen.
	watchMin = 10 * time.Second
	// syncTimeout bounds the wait for the heartbeat barrier; a reader
	// held up longer (a busy machine, a full writer queue) gives no verdict.
	syncTimeout = 15 * time.Second
	// seenMax bounds the danmaku keys a room remembers; seenMemory how
	// long it keeps them (pruned at each check). Items older than what is
	// remembered are not judged. A history item judged at a check was
	// either pending since the previous one (generated within watchSettle
	// of it) or new to the history, so generated after about the previous
	// check: what must be remembered at a check reaches back the history's
	// lag and clock skew, not the interval between checks (--watchdog);
	// two minutes leaves a wide margin. Memory: 16 bytes a danmaku of that
	// window and of the interval until the next prune.
	seenMax    = 4096
	seenMemory = 2 * time.Minute
	// judgedMemory: judged history keys are forgotten after this.
	judgedMemory = 15 * time.Minute
	// StarveMin is how many history items a connection must have judged
	// before its coverage is acted on.
	StarveMin = 10
	// goodRatio: a connection at or above this share is healthy again.
	goodRatio = 0.9
	// retryBase is the first wait before a sampled (logged-in but low)
	// room is tried again with a new connection; it doubles per try, up to
	// an hour, at most maxRetriesPerHour a rolling hour.
	retryBase         = 10 * time.Minute
	maxRetriesPerHour = 3
)

// errStarved is the cancel cause when the watchdog recycles a connection
// whose coverage is low although it should get the full stream.
var errStarved = errors.New("starved: far fewer danmaku than the room's history shows")

// errUpgrade is the cancel cause when an anonymous connection is replaced
// because an account slot became free.
var errUpgrade = errors.New("replaced by a logged-in connection")

// syncer is the part of protocol.Session the watchdog needs.
type syncer interface {
	Sync(ctx context.Context) error
}

// seenSet remembers the danmaku a room's connections received, by history
// key (checkKey), in arrival order, bounded by seenMax and seenMemory:
// 16 bytes a danmaku. horizon is the arrival time (unix ms) before which
// keys may have been forgotten. Safe for concurrent use.
type seenSet struct {
	mu      sync.Mutex
	q       []seenEntry // a ring: the oldest at head
	head, n int
	horizon int64
}

type seenEntry struct {
	key uint64
	at  int64 // arrival, unix ms
}

// checkKey is the one key under which a danmaku and its history item
// meet: DANMU_MSG info[9] {ts, ct} equals gethistory's check_info. It is
// a 64-bit FNV-1a hash of the two (a false match needs two of a room's
// recent danmaku to collide: about one in 10^15 for the 4,096 a room
// keeps).
func checkKey(ts int64, ct string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < 8; i++ {
		h = (h ^ uint64(byte(ts>>(8*i)))) * prime
	}
	for i := 0; i < len(ct); i++ {
		h = (h ^ uint64(ct[i])) * prime
	}
	return h
}

func newSeenSet() *seenSet { return &seenSet{} }

func (s *seenSet) add(k uint64, now int64) {
	s.mu.Lock()
	if s.n == seenMax {
		s.evictLocked()
	}
	if s.n == len(s.q) {
		s.resizeLocked(min(max(2*len(s.q), 16), seenMax))
	}
	s.q[(s.head+s.n)%len(s.q)] = seenEntry{k, now}
	s.n++
	s.mu.Unlock()
}

func (s *seenSet) evictLocked() {
	s.horizon = max(s.horizon, s.q[s.head].at)
	s.head = (s.head + 1) % len(s.q)
	s.n--
}

// prune forgets keys received before the given unix ms, and gives back
// a ring that a burst grew and that is now mostly empty.
func (s *seenSet) prune(before int64) {
	s.mu.Lock()
	for s.n > 0 && s.q[s.head].at < before {
		s.evictLocked()
	}
	if len(s.q) > 64 && s.n < len(s.q)/4 {
		s.resizeLocked(max(2*s.n, 16))
	}
	s.mu.Unlock()
}

// resizeLocked moves the ring's keys, oldest first, into a new one of
// size (at least s.n). s.mu held.
func (s *seenSet) resizeLocked(size int) {
	q := make([]seenEntry, size)
	for i := 0; i < s.n; i++ {
		q[i] = s.q[(s.head+i)%len(s.q)]
	}
	s.q, s.head = q, 0
}

func (s *seenSet) has(k uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := s.n - 1; i >= 0; i-- { // newest first: history items are recent
		if s.q[(s.head+i)%len(s.q)].key == k {
			return true
		}
	}
	return false
}

func (s *seenSet) horizonMs() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.horizon
}

// roomCoverage is one room worker's coverage state, shared by its
// connections one after another. judged and pending are touched only by
// the running connection's watchdog goroutine (one at a time).
type roomCoverage struct {
	seen    *seenSet
	judged  map[uint64]int64 // history key → its ts (unix s)
	pending map[uint64]int64 // seen in a history, too recent to judge yet
	start   int64            // unix s; history items sent before are not judged
	// connSince is the current connection's auth time (unix s): items
	// sent before it fell in a gap, which the connected share accounts
	// for, so they are not judged.
	connSince int64
	totals    *CoverageCount
}

func newRoomCoverage(start time.Time, totals *CoverageCount) *roomCoverage {
	return &roomCoverage{seen: newSeenSet(), judged: map[uint64]int64{}, pending: map[uint64]int64{},
		start: start.Unix(), totals: totals}
}

// judge compares a history fetched at fetched with what arrived (the
// caller has synced the connection after the fetch). Items newer than
// watchSettle wait in pending and are judged at a later check — in a busy
// room they are gone from the history by then, but not from pending. It
// returns how many items it judged, how many of those arrived, and how
// many items were new to this worker, which tells whether the history
// window overflowed since the last check.
func (rc *roomCoverage) judge(hist []roomsource.HistoryItem, fetched time.Time) (considered, arrived, fresh int) {
	for _, h := range hist {
		k := checkKey(h.CheckInfo.Ts, h.CheckInfo.Ct)
		if _, done := rc.judged[k]; done {
			continue
		}
		if _, waiting := rc.pending[k]; waiting {
			continue
		}
		fresh++
		rc.pending[k] = h.CheckInfo.Ts
	}
	settle := fetched.Add(-watchSettle).Unix()
	horizon := (rc.seen.horizonMs()+999)/1000 + 1
	for k, ts := range rc.pending {
		if ts > settle {
			continue // maybe not sent yet: a later check
		}
		delete(rc.pending, k)
		rc.judged[k] = ts
		if ts < rc.start || ts < horizon || ts <= rc.connSince {
			continue // before this worker or this connection, or older than what it remembers
		}
		considered++
		if rc.seen.has(k) {
			arrived++
		}
	}
	old := fetched.Add(-judgedMemory).Unix()
	for k, ts := range rc.judged {
		if ts < old {
			delete(rc.judged, k)
		}
	}
	rc.seen.prune(fetched.Add(-seenMemory).UnixMilli())
	if rc.totals != nil {
		rc.totals.Judged.Add(int64(considered))
		rc.totals.Arrived.Add(int64(arrived))
	}
	return considered, arrived, fresh
}

// nextInterval adapts the time to the next check: shorter while every
// history item was new (the window of 10 overflowed between checks, so
// some went unjudged), longer while few were, within [lo, hi].
func nextInterval(cur, lo, hi time.Duration, fresh, histLen int) time.Duration {
	switch {
	case histLen >= 5 && fresh >= histLen-1:
		cur /= 2
	case fresh <= histLen/3:
		cur *= 2
	}
	return min(max(cur, lo), hi)
}

// CoverageCount is a room's running coverage estimate: history danmaku
// judged while a connection was up and how many of them arrived, and how
// long the room was connected out of the time it was wanted. Safe for
// concurrent use.
type CoverageCount struct {
	Judged, Arrived atomic.Int64
	// Sampled is set while the room is known to get a sample (anonymous,
	// over every account's budget, or logged in but persistently low).
	Sampled atomic.Bool

	connectedMs, wantedMs  atomic.Int64 // closed sessions / closed workers
	liveSince, wantedSince atomic.Int64 // unix ms of the open session / worker; 0 = none
}

func (c *CoverageCount) wantedFrom(at time.Time) { c.wantedSince.Store(at.UnixMilli()) }
func (c *CoverageCount) wantedUntil(at time.Time) {
	if since := c.wantedSince.Swap(0); since > 0 {
		c.wantedMs.Add(at.UnixMilli() - since)
	}
}
func (c *CoverageCount) connectedFrom(at time.Time) { c.liveSince.Store(at.UnixMilli()) }
func (c *CoverageCount) connectedUntil(at time.Time) {
	if since := c.liveSince.Swap(0); since > 0 {
		c.connectedMs.Add(at.UnixMilli() - since)
	}
}

// ConnectedShare is the room's connected time over the time it was
// wanted, up to now.
func (c *CoverageCount) ConnectedShare(now time.Time) float64 {
	open := func(since int64) int64 {
		if since <= 0 {
			return 0
		}
		return max(0, now.UnixMilli()-since)
	}
	wanted := c.wantedMs.Load() + open(c.wantedSince.Load())
	if wanted <= 0 {
		return 0
	}
	return min(1, float64(c.connectedMs.Load()+open(c.liveSince.Load()))/float64(wanted))
}

// Estimate is the room's estimated coverage up to now: the share of the
// judged history danmaku that arrived, times the connected share (what
// was sent while no connection was up is lost), and whether there are
// enough judged items to say it (storage.CoverageEstimate: at least
// storage.MinCoverageSamples, the rule stats applies to the same figures).
func (c *CoverageCount) Estimate(now time.Time) (float64, bool) {
	p, ok := storage.CoverageEstimate(c.Judged.Load(), c.Arrived.Load())
	return p * c.ConnectedShare(now), ok
}

// Interval is the 95 % interval of the room's coverage up to now: the
// Wilson interval of the judged history share (storage.CoverageInterval)
// times the connected share, which is measured, not sampled, so adds no
// width of its own. It is given at any number of judged items (wide when
// there are few); ok is false when none was judged.
func (c *CoverageCount) Interval(now time.Time) (lo, hi float64, ok bool) {
	lo, hi, ok = storage.CoverageInterval(c.Judged.Load(), c.Arrived.Load())
	share := c.ConnectedShare(now)
	return lo * share, hi * share, ok
}

// lowPolicy decides what to do with a connection whose coverage is low.
// A connection that should get everything is replaced once with a fresh
// token; if the replacement is low too, the room is marked sampled and
// kept, and tried again after retryBase, doubling, at most
// maxRetriesPerHour times in a rolling hour. Owned by one worker.
type lowPolicy struct {
	replaced bool             // the one immediate replacement was used
	sampled  bool             // marked sampled
	tries    []time.Time      // recycles of a sampled room, for the hourly bound
	next     time.Time        // earliest next retry of a sampled room
	wait     *backoff.Backoff // from retryBase, doubling, at most an hour
}

// onLow reports whether to recycle the connection now; markSampled says
// the room just became (or stays) sampled.
func (p *lowPolicy) onLow(now time.Time) (recycle, markSampled bool) {
	if !p.replaced {
		p.replaced = true
		return true, false
	}
	if !p.sampled {
		p.sampled = true
		p.wait = backoff.New(retryBase, time.Hour, nil)
		p.next = now.Add(p.wait.Next())
		return false, true
	}
	if now.Before(p.next) {
		return false, true
	}
	recent := p.tries[:0]
	for _, t := range p.tries {
		if now.Sub(t) < time.Hour {
			recent = append(recent, t)
		}
	}
	p.tries = recent
	if len(p.tries) >= maxRetriesPerHour {
		return false, true
	}
	p.tries = append(p.tries, now)
	p.next = now.Add(p.wait.Next())
	return true, true
}

// onGood resets the policy after a connection with good coverage; it
// reports whether the room had been marked sampled.
func (p *lowPolicy) onGood() (wasSampled bool) {
	wasSampled = p.sampled
	p.replaced, p.sampled = false, false
	return wasSampled
}
