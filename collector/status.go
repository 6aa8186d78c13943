package collector

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// Room states as RoomStatus.State gives them.
const (
	StateConnected    = "connected"    // a connection is up and gets the room's full stream
	StateSampled      = "sampled"      // a connection is up but gets a sample (anonymous, or logged in and persistently low)
	StateReconnecting = "reconnecting" // no connection now; the room had one in this run
	StateConnecting   = "connecting"   // no connection yet in this run (first connects are spread over a few seconds)
	StateWaiting      = "waiting"      // waiting for an account slot (Config.LoggedInOnly)
	StateUnwatched    = "unwatched"    // wanted but not watched: over the open-file budget (Config.MaxRooms)
)

// StatusMinutes is how many minutes of per-minute event counts a
// RoomStatus carries.
const StatusMinutes = 60

// rateWindow is the window RoomStatus.EventsPerMin averages over.
const rateWindow = 5 * time.Minute

// RoomStatus is one wanted room as a status page shows it: a snapshot,
// owned by the caller. Title, Area and Anchor come from Bilibili (the last
// discovery round that listed the room) and are untrusted text.
type RoomStatus struct {
	RoomID int64  `json:"room_id"`
	Title  string `json:"title"`  // "" for a --room room no round listed
	Area   string `json:"area"`   // "parent area / area"
	Anchor string `json:"anchor"` // the streamer's name
	Rank   int    `json:"rank"`   // in the latest round's list; 0 = not listed
	State  string `json:"state"`  // one of the State* constants
	// Anonymous: the connection up now carries no login. Sampled: the
	// room is known to receive a sample (anonymous, over every account's
	// budget, or logged in and persistently low), as
	// danmakud_rooms_sampled counts it.
	Anonymous bool `json:"anonymous"`
	Sampled   bool `json:"sampled"`
	// ConnectedSinceMs is when the connection up now authenticated (unix
	// ms; 0 = none up).
	ConnectedSinceMs int64 `json:"connected_since_ms"`
	// ConnectedShare is connected time over wanted time in this run
	// (CoverageCount.ConnectedShare).
	ConnectedShare float64 `json:"connected_share"`
	// Judged and Arrived are the room's history danmaku judged while
	// connected and how many of them arrived; Coverage is the estimate
	// (CoverageCount.Estimate; nil while too few items were judged) and
	// CoverageLow–CoverageHigh its 95 % interval
	// (CoverageCount.Interval).
	Judged       int64    `json:"judged"`
	Arrived      int64    `json:"arrived"`
	Coverage     *float64 `json:"coverage"`
	CoverageLow  float64  `json:"coverage_low"`
	CoverageHigh float64  `json:"coverage_high"`
	// Events and Danmaku count what the decode stage handed to the writer
	// for the room in this run (all kinds, and danmaku alone), as
	// danmakud_events_total counts them.
	Events  int64 `json:"events"`
	Danmaku int64 `json:"danmaku"`
	// EventsPerMin is the room's events per minute over the last 5
	// minutes (or since it was first wanted, when later).
	EventsPerMin float64 `json:"events_per_min"`
	// PerMinute is the events received in each of the last
	// StatusMinutes minutes, oldest first; the last is the current
	// minute so far.
	PerMinute []int64 `json:"per_minute"`
	// LastEventMs is when the room's last event was received (unix ms;
	// 0 = none).
	LastEventMs int64 `json:"last_event_ms"`
	// LastError is why the room's last connection ended or failed, as
	// connections.end_reason says it ("" = none yet), at LastErrorMs.
	LastError   string `json:"last_error"`
	LastErrorMs int64  `json:"last_error_ms"`
}

// Status is a snapshot of every wanted room (Collector.Status).
type Status struct {
	At time.Time
	// Rooms are the latest discovery round's rooms, by room id.
	Rooms []RoomStatus
	// EventsElsewhere and DanmakuElsewhere are the events (and danmaku)
	// this run decoded for rooms not in Rooms: rooms that left the
	// desired set, and frames an earlier run read but did not store.
	// Σ Rooms' Events + EventsElsewhere = every event decoded.
	EventsElsewhere, DanmakuElsewhere int64
}

// statusBoard keeps what Status reports. The collector's hooks call it
// from the supervisor (round), the workers (connected, ended, waiting)
// and the decode stage (frame). Safe for concurrent use.
type statusBoard struct {
	mu     sync.RWMutex
	rooms  map[int64]*roomStatus
	wanted []int64 // the latest round's rooms, by id
	// events of rooms no longer on the board, or never on it
	otherEvents, otherDanmaku int64
}

// roomStatus is one room on the board; mu guards everything.
type roomStatus struct {
	mu        sync.Mutex
	id        int64
	title     string
	area      string
	anchor    string
	rank      int
	wanted    bool // in the latest round
	unwatched bool // in it, but no worker (over the descriptor budget)
	added     time.Time
	conn      *connState // the connection up now; nil = none
	connected bool       // had a connection in this run
	waiting   bool
	perMin    [StatusMinutes]int64 // by unix minute mod StatusMinutes
	newest    int64                // the unix minute of the newest slot written
	events    int64
	danmaku   int64
	lastEvent int64 // unix ms
	lastErr   string
	lastErrMs int64
}

// room returns room's entry, creating it (not wanted) when missing.
func (b *statusBoard) room(id int64) *roomStatus {
	b.mu.RLock()
	r := b.rooms[id]
	b.mu.RUnlock()
	if r != nil {
		return r
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rooms == nil {
		b.rooms = map[int64]*roomStatus{}
	}
	if r = b.rooms[id]; r == nil {
		r = &roomStatus{id: id, added: time.Now()}
		b.rooms[id] = r
	}
	return r
}

// round records a discovery round: the rooms it wants (their titles and
// areas when listed) and which of them got a worker (run).
func (b *statusBoard) round(r roomsource.Round, run []roomsource.Target) {
	running := make(map[int64]bool, len(run))
	for _, t := range run {
		running[t.RoomID] = true
	}
	wanted := make([]int64, 0, len(r.Rooms))
	for _, t := range r.Rooms {
		rs := b.room(t.RoomID)
		rs.mu.Lock()
		rs.wanted, rs.unwatched, rs.rank = true, !running[t.RoomID], t.Rank
		if m := t.Room; m.RoomID != 0 {
			rs.title, rs.anchor, rs.area = m.Title, m.Uname, strings.Trim(m.ParentName+" / "+m.AreaName, " /")
		}
		rs.mu.Unlock()
		wanted = append(wanted, t.RoomID)
	}
	slices.Sort(wanted)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wanted = wanted
	keep := make(map[int64]bool, len(wanted))
	for _, id := range wanted {
		keep[id] = true
	}
	for id, rs := range b.rooms {
		if !keep[id] {
			rs.mu.Lock()
			rs.wanted = false
			rs.mu.Unlock()
			b.dropLocked(rs)
		}
	}
}

// dropLocked removes rs from the board when it is not wanted and has no
// connection, keeping its events in the board's totals. b.mu held.
func (b *statusBoard) dropLocked(rs *roomStatus) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.wanted || rs.conn != nil || b.rooms[rs.id] != rs {
		return
	}
	b.otherEvents += rs.events
	b.otherDanmaku += rs.danmaku
	delete(b.rooms, rs.id)
}

// connected records that room's connection st authenticated; the
// returned func records that it ended.
func (b *statusBoard) connected(room int64, st *connState) (down func()) {
	rs := b.room(room)
	rs.mu.Lock()
	rs.conn, rs.connected = st, true
	rs.mu.Unlock()
	return func() {
		rs.mu.Lock()
		if rs.conn == st {
			rs.conn = nil
		}
		rs.mu.Unlock()
		b.mu.Lock()
		b.dropLocked(rs)
		b.mu.Unlock()
	}
}

// ended records why room's last connection ended or failed (a
// connections.end_reason).
func (b *statusBoard) ended(room int64, reason string) {
	rs := b.room(room)
	rs.mu.Lock()
	rs.lastErr, rs.lastErrMs = reason, time.Now().UnixMilli()
	rs.mu.Unlock()
}

// waiting records that room waits for an account slot; the returned func
// records that it stopped waiting.
func (b *statusBoard) waiting(room int64) (done func()) {
	rs := b.room(room)
	rs.mu.Lock()
	rs.waiting = true
	rs.mu.Unlock()
	return func() {
		rs.mu.Lock()
		rs.waiting = false
		rs.mu.Unlock()
	}
}

// frame counts the events among recs (one decoded frame of room,
// received at recvMs). Rooms not on the board count in the board's
// totals.
func (b *statusBoard) frame(room, recvMs int64, recs []storage.Record) {
	var events, danmaku int64
	for _, r := range recs {
		if e, ok := r.(storage.Event); ok {
			events++
			if e.E.Common().Kind == protocol.KindDanmaku {
				danmaku++
			}
		}
	}
	if events == 0 {
		return
	}
	b.mu.RLock()
	rs := b.rooms[room]
	if rs == nil {
		b.mu.RUnlock()
		b.mu.Lock()
		b.otherEvents += events
		b.otherDanmaku += danmaku
		b.mu.Unlock()
		return
	}
	rs.mu.Lock() // under b.mu: dropLocked cannot move rs's counts meanwhile
	rs.add(recvMs, events, danmaku)
	rs.mu.Unlock()
	b.mu.RUnlock()
}

// add counts events received at recvMs into the per-minute ring. rs.mu
// held.
func (rs *roomStatus) add(recvMs, events, danmaku int64) {
	rs.events += events
	rs.danmaku += danmaku
	rs.lastEvent = max(rs.lastEvent, recvMs)
	m := recvMs / 60000
	switch {
	case m > rs.newest:
		for k := max(rs.newest+1, m-StatusMinutes+1); k <= m; k++ {
			rs.perMin[k%StatusMinutes] = 0
		}
		rs.newest = m
	case m <= rs.newest-StatusMinutes:
		return // older than the ring (a replayed frame)
	}
	rs.perMin[m%StatusMinutes] += events
}

// Status returns a snapshot of every room the latest discovery round
// wants, by room id, with their connection state, coverage and event
// counts. It is safe to call at any time from any goroutine, also
// before the first round (no rooms); it costs O(rooms) and copies a
// StatusMinutes-long slice per room.
func (c *Collector) Status() Status {
	now := time.Now()
	b := &c.board
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := Status{At: now, Rooms: make([]RoomStatus, 0, len(b.wanted)),
		EventsElsewhere: b.otherEvents, DanmakuElsewhere: b.otherDanmaku}
	for _, rs := range b.rooms {
		rs.mu.Lock()
		if !rs.wanted {
			out.EventsElsewhere += rs.events
			out.DanmakuElsewhere += rs.danmaku
		}
		rs.mu.Unlock()
	}
	for _, id := range b.wanted {
		if rs := b.rooms[id]; rs != nil {
			out.Rooms = append(out.Rooms, c.snapshot(rs, now))
		}
	}
	return out
}

// snapshot is rs as a RoomStatus at now.
func (c *Collector) snapshot(rs *roomStatus, now time.Time) RoomStatus {
	rs.mu.Lock()
	s := RoomStatus{RoomID: rs.id, Title: rs.title, Area: rs.area, Anchor: rs.anchor, Rank: rs.rank,
		Events: rs.events, Danmaku: rs.danmaku, LastEventMs: rs.lastEvent, LastError: rs.lastErr, LastErrorMs: rs.lastErrMs,
		PerMinute: make([]int64, StatusMinutes)}
	cur := now.UnixMilli() / 60000
	for i := range s.PerMinute {
		m := cur - StatusMinutes + 1 + int64(i)
		if m <= rs.newest && m > rs.newest-StatusMinutes {
			s.PerMinute[i] = rs.perMin[m%StatusMinutes]
		}
	}
	conn, connected, waiting, unwatched, added := rs.conn, rs.connected, rs.waiting, rs.unwatched, rs.added
	rs.mu.Unlock()
	// Events per minute over the last rateWindow minutes of the ring (the
	// current one so far), or since the room was added when later.
	n := int(rateWindow / time.Minute)
	from := time.UnixMilli((cur - int64(n) + 1) * 60000)
	if added.After(from) {
		from = added
	}
	var recent int64
	for _, v := range s.PerMinute[StatusMinutes-n:] {
		recent += v
	}
	if mins := now.Sub(from).Minutes(); mins > 0 {
		s.EventsPerMin = float64(recent) / max(mins, 1.0/6)
	}
	var cov *CoverageCount
	if v, ok := c.cov.Load(rs.id); ok {
		cov = v.(*CoverageCount)
	}
	sampled := false
	if cov != nil {
		s.Judged, s.Arrived = cov.Judged.Load(), cov.Arrived.Load()
		s.ConnectedShare = cov.ConnectedShare(now)
		if e, ok := cov.Estimate(now); ok {
			s.Coverage = &e
		}
		s.CoverageLow, s.CoverageHigh, _ = cov.Interval(now)
		sampled = cov.Sampled.Load()
	}
	s.Sampled = sampled
	switch {
	case unwatched:
		s.State = StateUnwatched
	case conn != nil && sampled:
		s.State = StateSampled
	case conn != nil:
		s.State = StateConnected
	case waiting:
		s.State = StateWaiting
	case connected:
		s.State = StateReconnecting
	default:
		s.State = StateConnecting
	}
	if conn != nil {
		s.Anonymous, s.ConnectedSinceMs = conn.base.Anonymous, conn.base.AuthedMs
	}
	return s
}
