package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// roomMetrics are what the collector reports: the rooms, their
// connections and events (collector.Observer), and the accounts' logins
// (collector.LoginObserver).
type roomMetrics struct {
	desired, connected, waiting, overBudget prometheus.Gauge
	sampledN                                prometheus.Gauge // len(sampled), set under mu
	roomConnected, roomCoverage             *prometheus.GaugeVec

	events                                   *prometheus.CounterVec
	frames, badFrames, acks, resent, unknown prometheus.Counter
	sessions, reconnects                     *prometheus.CounterVec
	tokenReuse, recycles, stalls             prometheus.Counter
	authRejected, upgrades, backpressure     prometheus.Counter

	accounts    *prometheus.GaugeVec
	loginLapses prometheus.Counter

	mu      sync.Mutex
	want    map[int64]bool // rooms wanted now; nil before the first round
	sampled map[int64]bool // wanted rooms known to receive a sample
}

func (r *roomMetrics) register(f factory) {
	r.sampled = map[int64]bool{}
	r.desired = f.gauge("danmakud_rooms_desired", "Rooms in the latest discovery round's desired set (top-N plus --room).")
	r.connected = f.gauge("danmakud_rooms_connected", "Rooms with an authenticated connection now.")
	r.waiting = f.gauge("danmakud_rooms_waiting", "Rooms waiting for an account slot (--logged-in-only).")
	r.overBudget = f.gauge("danmakud_rooms_over_fd_budget", "Wanted rooms not watched because they do not fit the open-file limit (RLIMIT_NOFILE): raise it.")
	r.sampledN = f.gauge("danmakud_rooms_sampled",
		"Wanted rooms known to receive a sample (anonymous, over every account's budget, or logged in but persistently low).")
	r.roomConnected = f.gaugeVec("danmakud_room_connected", "1 while the room has an authenticated connection, else 0; removed when the room leaves the desired set.", "room_id")
	r.roomCoverage = f.gaugeVec("danmakud_room_coverage_ratio", "Estimated share (0-1) of the room's danmaku that was stored, from its danmaku history; present once the room has an estimate (enough history danmaku judged); removed when the room leaves the desired set.", "room_id")

	r.events = f.counterVec("danmakud_events_total", "Events decoded and handed to the writer, by kind (danmaku, gift, …).", "kind")
	r.frames = f.counter("danmakud_frames_total", "WebSocket messages received.")
	r.badFrames = f.counter("danmakud_bad_frames_total", "Messages or commands that could not be decoded (stored as malformed).")
	r.acks = f.counter("danmakud_acks_total", "Op-24 acks sent for commands that asked for one.")
	r.resent = f.counter("danmakud_resent_commands_dropped_total", "Commands dropped because their msg_id was already received (server re-sends).")
	r.unknown = f.counter("danmakud_unknown_commands_total", "Commands without a typed table (kind other: an unknown type, or a known one whose JSON had an unexpected shape), counted per arrival; the unknown_commands table sums them per cmd.")
	r.sessions = f.counterVec("danmakud_sessions_total", "Connections authenticated, by identity (logged_in or anonymous).", "identity")
	r.reconnects = f.counterVec("danmakud_reconnects_total", "Connections that ended while their room was still wanted, by end reason (as connections.end_reason, errors as \"error\").", "reason")
	r.tokenReuse = f.counter("danmakud_token_reuses_total", "Reconnects that reused a still-valid token (no HTTP request).")
	r.recycles = f.counter("danmakud_watchdog_recycles_total", "Connections the coverage watchdog replaced because they got far fewer danmaku than the room sent.")
	r.stalls = f.counter("danmakud_stalls_total", "Connections dropped because the server went silent (no heartbeat reply).")
	r.authRejected = f.counter("danmakud_auth_rejected_total", "WebSocket auth packets the server refused.")
	r.upgrades = f.counter("danmakud_upgrades_total", "Anonymous connections replaced by a logged-in one when an account slot freed up.")
	r.backpressure = f.counter("danmakud_writer_backpressure_waits_total", "Sends to the writer that had to wait because its queue was full.")

	r.accounts = f.gaugeVec("danmakud_accounts", "Accounts (cookie files) by login state at the last check: ok or lapsed.", "state")
	r.loginLapses = f.counter("danmakud_login_lapses_total", "Times an account's login was found refused or lapsed.")
	for _, s := range []string{"ok", "lapsed"} { // exist from the start, so that rate() and absent() work
		r.accounts.WithLabelValues(s)
	}
}

func (r *roomMetrics) sampledCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sampled)
}

// wantedCount is how many rooms the latest round wanted.
func (r *roomMetrics) wantedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.want)
}

// wantedLocked says whether room's per-room series may be set. r.mu held.
func (r *roomMetrics) wantedLocked(room int64) bool { return r.want != nil && r.want[room] }

func (r *roomMetrics) totals(t *Totals) {
	t.RoomsDesired = sum(r.desired, nil)
	t.RoomsConnected = sum(r.connected, nil)
	t.RoomsWaiting = sum(r.waiting, nil)
	t.RoomsOverBudget = sum(r.overBudget, nil)
	t.RoomsSampled = int64(r.sampledCount())
	t.Events = sum(r.events, nil)
	t.Frames = sum(r.frames, nil)
	t.BadFrames = sum(r.badFrames, nil)
	t.Acks = sum(r.acks, nil)
	t.Resent = sum(r.resent, nil)
	t.Unknown = sum(r.unknown, nil)
	t.Sessions = sum(r.sessions, nil)
	t.LoggedIn = sum(r.sessions, is("identity", "logged_in"))
	t.Anonymous = sum(r.sessions, is("identity", "anonymous"))
	t.Reconnects = sum(r.reconnects, nil)
	t.TokenReuse = sum(r.tokenReuse, nil)
	t.Recycles = sum(r.recycles, nil)
	t.Stalls = sum(r.stalls, nil)
	t.AuthRejected = sum(r.authRejected, nil)
	t.Upgrades = sum(r.upgrades, nil)
	t.Backpressure = sum(r.backpressure, nil)
	t.AccountsOK = sum(r.accounts, is("state", "ok"))
	t.AccountsLapsed = sum(r.accounts, is("state", "lapsed"))
	t.LoginLapses = sum(r.loginLapses, nil)
}

// --- rooms ---

// SetDesired records the desired room set of a discovery round: it sets
// danmakud_rooms_desired and deletes the per-room series (and sampled
// state) of every room no longer in it. Per-room setters ignore rooms
// outside the set, so a leaving room's draining worker cannot bring its
// series back.
func (m *Metrics) SetDesired(rooms []int64) {
	if m == nil {
		return
	}
	r := &m.rooms
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[int64]bool, len(rooms))
	for _, id := range rooms {
		next[id] = true
	}
	for id := range r.want {
		if !next[id] {
			l := roomLabel(id)
			r.roomConnected.DeleteLabelValues(l)
			r.roomCoverage.DeleteLabelValues(l)
			delete(r.sampled, id)
		}
	}
	r.sampledN.Set(float64(len(r.sampled)))
	r.want = next
	r.desired.Set(float64(len(next)))
}

// RoomConnected records that room's connection authenticated (true) or
// ended (false): danmakud_rooms_connected moves by one either way; the
// room's danmakud_room_connected series is set while the room is wanted.
func (m *Metrics) RoomConnected(room int64, up bool) {
	if m == nil {
		return
	}
	r := &m.rooms
	v := 0.0
	if up {
		v = 1
		r.connected.Inc()
	} else {
		r.connected.Dec()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wantedLocked(room) {
		r.roomConnected.WithLabelValues(roomLabel(room)).Set(v)
	}
}

// SetRoomCoverage sets a wanted room's estimated coverage (0–1).
func (m *Metrics) SetRoomCoverage(room int64, ratio float64) {
	if m == nil {
		return
	}
	r := &m.rooms
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wantedLocked(room) {
		r.roomCoverage.WithLabelValues(roomLabel(room)).Set(ratio)
	}
}

// SetRoomSampled records whether a wanted room is known to receive a
// sample (danmakud_rooms_sampled counts them).
func (m *Metrics) SetRoomSampled(room int64, sampled bool) {
	if m == nil {
		return
	}
	r := &m.rooms
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case sampled && r.wantedLocked(room):
		r.sampled[room] = true
	case !sampled:
		delete(r.sampled, room)
	}
	r.sampledN.Set(float64(len(r.sampled)))
}

// RoomWaiting moves danmakud_rooms_waiting by delta (+1 when a room
// starts waiting for an account slot, -1 when it stops).
func (m *Metrics) RoomWaiting(delta int) {
	if m != nil {
		m.rooms.waiting.Add(float64(delta))
	}
}

// RoomsOverBudget sets danmakud_rooms_over_fd_budget.
func (m *Metrics) RoomsOverBudget(n int) {
	if m != nil {
		m.rooms.overBudget.Set(float64(n))
	}
}

// --- connections and events ---

// Event counts one event of kind handed to the writer.
func (m *Metrics) Event(kind string) {
	if m != nil {
		m.rooms.events.WithLabelValues(kind).Inc()
	}
}

// Frame counts one WebSocket message received.
func (m *Metrics) Frame() {
	if m != nil {
		m.rooms.frames.Inc()
	}
}

// BadFrame counts one message or command that could not be decoded.
func (m *Metrics) BadFrame() {
	if m != nil {
		m.rooms.badFrames.Inc()
	}
}

// Ack counts one op-24 ack sent.
func (m *Metrics) Ack() {
	if m != nil {
		m.rooms.acks.Inc()
	}
}

// Resent counts one re-sent command dropped.
func (m *Metrics) Resent() {
	if m != nil {
		m.rooms.resent.Inc()
	}
}

// UnknownCommand counts one command without a typed table (kind other).
func (m *Metrics) UnknownCommand() {
	if m != nil {
		m.rooms.unknown.Inc()
	}
}

// Session counts one authenticated connection; anonymous says which
// identity it carried.
func (m *Metrics) Session(anonymous bool) {
	if m == nil {
		return
	}
	id := "logged_in"
	if anonymous {
		id = "anonymous"
	}
	m.rooms.sessions.WithLabelValues(id).Inc()
}

// Reconnect counts one connection that ended while its room was still
// wanted. reason must come from a small fixed set (collector's end
// reasons; never an error text).
func (m *Metrics) Reconnect(reason string) {
	if m != nil {
		m.rooms.reconnects.WithLabelValues(reason).Inc()
	}
}

// TokenReuse counts one reconnect that reused its token.
func (m *Metrics) TokenReuse() {
	if m != nil {
		m.rooms.tokenReuse.Inc()
	}
}

// WatchdogRecycle counts one connection recycled for low coverage.
func (m *Metrics) WatchdogRecycle() {
	if m != nil {
		m.rooms.recycles.Inc()
	}
}

// Stall counts one connection dropped for silence.
func (m *Metrics) Stall() {
	if m != nil {
		m.rooms.stalls.Inc()
	}
}

// AuthRejected counts one refused auth packet.
func (m *Metrics) AuthRejected() {
	if m != nil {
		m.rooms.authRejected.Inc()
	}
}

// Upgrade counts one anonymous connection replaced by a logged-in one.
func (m *Metrics) Upgrade() {
	if m != nil {
		m.rooms.upgrades.Inc()
	}
}

// Backpressure counts one send that waited for the writer.
func (m *Metrics) Backpressure() {
	if m != nil {
		m.rooms.backpressure.Inc()
	}
}

// --- logins ---

// SetAccounts records the last login check: ok accounts logged in,
// lapsed ones refused.
func (m *Metrics) SetAccounts(ok, lapsed int) {
	if m != nil {
		m.rooms.accounts.WithLabelValues("ok").Set(float64(ok))
		m.rooms.accounts.WithLabelValues("lapsed").Set(float64(lapsed))
	}
}

// LoginLapse counts one login found refused or lapsed.
func (m *Metrics) LoginLapse() {
	if m != nil {
		m.rooms.loginLapses.Inc()
	}
}
