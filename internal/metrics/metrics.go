// Package metrics is danmakud's one observability seam: a single handle,
// created once by collect and passed to roomsource, collector and
// storage, that counts what they do. The Prometheus /metrics endpoint,
// collect's progress line and its final summary all read it.
//
// A nil *Metrics is a valid no-op handle: every method may be called on
// it (the recording ones do nothing, Totals returns zeros), so tests and
// other callers need nothing. All methods are safe for concurrent use.
//
// No label ever carries a cookie, token or URL: labels are endpoint names,
// status codes, event kinds, table names, end reasons and room ids.
package metrics

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Values of the status label of danmakud_http_requests_total besides
// the HTTP status code ("200", "412", "503", …) and the envelope codes
// "-352" and "-412" (answered with HTTP 200).
const (
	StatusError    = "error"     // no answer: network error or unreadable body
	StatusBadJSON  = "bad_json"  // HTTP 200 but the body is not the JSON envelope
	StatusAPIError = "api_error" // HTTP 200, envelope code not 0, -352 or -412
	StatusRisk     = "-352"      // HTTP 200, envelope code -352 (risk control)
	StatusLimited  = "-412"      // HTTP 200, envelope code -412 (rate limited)
)

// Values of the reason label of danmakud_http_requests_not_sent_total.
const (
	NotSentBreaker  = "breaker_open"    // the 412 breaker was open
	NotSentNoBudget = "no_spare_budget" // a background request found no spare token
)

// Metrics is the handle. Make it with New.
type Metrics struct {
	reg *prometheus.Registry

	roomsDesired, roomsConnected, roomsWaiting prometheus.Gauge
	roomConnected, roomCoverage                *prometheus.GaugeVec

	events                                         *prometheus.CounterVec
	frames, badFrames, acks, resent, unknown       prometheus.Counter
	sessions, reconnects                           *prometheus.CounterVec
	tokenReuse, recycles, stalls, authRejected     prometheus.Counter
	upgrades, backpressure                         prometheus.Counter
	httpRequests, httpNotSent                      *prometheus.CounterVec
	accounts                                       *prometheus.GaugeVec
	loginLapses                                    prometheus.Counter
	rows                                           *prometheus.CounterVec
	rowsUpdated, dups, records, flushes, flushErrs prometheus.Counter
	flushDuration                                  prometheus.Histogram
	pending                                        prometheus.Gauge
	lastFlush                                      prometheus.Gauge

	queueFn atomic.Pointer[func() int]

	mu       sync.Mutex
	desired  map[int64]bool // rooms wanted now; nil before the first round
	sampled  map[int64]bool // wanted rooms known to receive a sample
	failing  int            // consecutive failed flushes
	flushed  time.Time      // last successful flush
	started  time.Time      // New
	stale    time.Duration  // see SetFlushDeadline; 0 = never stale
	nDesired int
}

// New returns a handle with every danmakud_ metric registered on its own
// registry, plus the Go runtime and process collectors and
// danmakud_build_info{version, goversion}.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), sampled: map[int64]bool{}, started: time.Now()}
	f := factory{m.reg}
	m.roomsDesired = f.gauge("danmakud_rooms_desired", "Rooms in the latest discovery round's desired set (top-N plus --room).")
	m.roomsConnected = f.gauge("danmakud_rooms_connected", "Rooms with an authenticated connection now.")
	m.roomsWaiting = f.gauge("danmakud_rooms_waiting", "Rooms waiting for an account slot (--logged-in-only).")
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "danmakud_rooms_sampled",
		Help: "Wanted rooms known to receive a sample (anonymous, over every account's budget, or logged in but persistently low)."},
		func() float64 { m.mu.Lock(); defer m.mu.Unlock(); return float64(len(m.sampled)) }))
	m.roomConnected = f.gaugeVec("danmakud_room_connected", "1 while the room has an authenticated connection, else 0; removed when the room leaves the desired set.", "room_id")
	m.roomCoverage = f.gaugeVec("danmakud_room_coverage_ratio", "Estimated share (0-1) of the room's danmaku that was stored, from its danmaku history; present once at least 10 history danmaku were judged; removed when the room leaves the desired set.", "room_id")

	m.events = f.counterVec("danmakud_events_total", "Events decoded and handed to the writer, by kind (danmaku, gift, …).", "kind")
	m.frames = f.counter("danmakud_frames_total", "WebSocket messages received.")
	m.badFrames = f.counter("danmakud_bad_frames_total", "Messages or commands that could not be decoded (stored as malformed).")
	m.acks = f.counter("danmakud_acks_total", "Op-24 acks sent for commands that asked for one.")
	m.resent = f.counter("danmakud_resent_commands_dropped_total", "Commands dropped because their msg_id was already received (server re-sends).")
	m.unknown = f.counter("danmakud_unknown_commands_total", "Commands without a typed table (kind other: an unknown type, or a known one whose JSON had an unexpected shape), counted per arrival; the unknown_commands table sums them per cmd.")
	m.sessions = f.counterVec("danmakud_sessions_total", "Connections authenticated, by identity (logged_in or anonymous).", "identity")
	m.reconnects = f.counterVec("danmakud_reconnects_total", "Connections that ended while their room was still wanted, by end reason (as connections.end_reason, errors as \"error\").", "reason")
	m.tokenReuse = f.counter("danmakud_token_reuses_total", "Reconnects that reused a still-valid token (no HTTP request).")
	m.recycles = f.counter("danmakud_watchdog_recycles_total", "Connections the coverage watchdog replaced because they got far fewer danmaku than the room sent.")
	m.stalls = f.counter("danmakud_stalls_total", "Connections dropped because the server went silent (no heartbeat reply).")
	m.authRejected = f.counter("danmakud_auth_rejected_total", "WebSocket auth packets the server refused.")
	m.upgrades = f.counter("danmakud_upgrades_total", "Anonymous connections replaced by a logged-in one when an account slot freed up.")
	m.backpressure = f.counter("danmakud_writer_backpressure_waits_total", "Sends to the writer that had to wait because its queue was full.")

	m.httpRequests = f.counterVec("danmakud_http_requests_total", "Bilibili HTTP requests sent, by endpoint and status: the HTTP status code, or -352 / -412 / api_error for a non-zero envelope code in an HTTP 200 answer, bad_json, or error (no answer).", "endpoint", "status")
	m.httpNotSent = f.counterVec("danmakud_http_requests_not_sent_total", "Bilibili HTTP requests not sent, by endpoint and reason (breaker_open after a 412, no_spare_budget for background checks).", "endpoint", "reason")
	m.accounts = f.gaugeVec("danmakud_accounts", "Accounts (cookie files) by login state at the last check: ok or lapsed.", "state")
	m.loginLapses = f.counter("danmakud_login_lapses_total", "Times an account's login was found refused or lapsed.")

	m.rows = f.counterVec("danmakud_rows_written_total", "Rows inserted and committed, by table (updates and ignored duplicates not counted).", "table")
	m.rowsUpdated = f.counter("danmakud_rows_updated_total", "Rows updated and committed (a connection's end, a guard's toast, …).")
	m.dups = f.counter("danmakud_duplicates_ignored_total", "Records the schema's unique keys ignored as duplicates.")
	m.records = f.counter("danmakud_writer_records_total", "Records the writer received.")
	m.flushes = f.counter("danmakud_flushes_total", "Successful flushes (one transaction each).")
	m.flushErrs = f.counter("danmakud_flush_errors_total", "Failed flushes (the batch is kept and retried).")
	m.flushDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "danmakud_flush_duration_seconds",
		Help:    "Time a successful flush took, from routing the batch to the commit.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}) // 1 ms … 16 s
	m.reg.MustRegister(m.flushDuration)
	m.pending = f.gauge("danmakud_writer_pending_records", "Records the writer holds that are not committed yet.")
	m.lastFlush = f.gauge("danmakud_last_flush_timestamp_seconds", "Unix time of the last successful flush.")
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "danmakud_writer_queue_depth",
		Help: "Records waiting in the writer's input queue."},
		func() float64 {
			if fn := m.queueFn.Load(); fn != nil {
				return float64((*fn)())
			}
			return 0
		}))

	bi := f.gaugeVec("danmakud_build_info", "Always 1; the labels say which danmakud build runs.", "version", "goversion")
	bi.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Series that exist from the start, so that rate() and absent() work.
	for _, s := range []string{"ok", "lapsed"} {
		m.accounts.WithLabelValues(s)
	}
	return m
}

type factory struct{ reg *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

// Registry is the registry behind the handle (nil for a nil handle).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

func roomLabel(room int64) string { return strconv.FormatInt(room, 10) }

// --- rooms (collector) ---

// SetDesired records the desired room set of a discovery round: it sets
// danmakud_rooms_desired and deletes the per-room series (and sampled
// state) of every room no longer in it. Per-room setters ignore rooms
// outside the set, so a leaving room's draining worker cannot bring its
// series back.
func (m *Metrics) SetDesired(rooms []int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[int64]bool, len(rooms))
	for _, r := range rooms {
		next[r] = true
	}
	for r := range m.desired {
		if !next[r] {
			l := roomLabel(r)
			m.roomConnected.DeleteLabelValues(l)
			m.roomCoverage.DeleteLabelValues(l)
			delete(m.sampled, r)
		}
	}
	m.desired = next
	m.nDesired = len(next)
	m.roomsDesired.Set(float64(len(next)))
}

// wantedLocked says whether room's per-room series may be set. m.mu held.
func (m *Metrics) wantedLocked(room int64) bool { return m.desired != nil && m.desired[room] }

// RoomConnected records that room's connection authenticated (true) or
// ended (false): danmakud_rooms_connected moves by one either way; the
// room's danmakud_room_connected series is set while the room is wanted.
func (m *Metrics) RoomConnected(room int64, up bool) {
	if m == nil {
		return
	}
	if up {
		m.roomsConnected.Inc()
	} else {
		m.roomsConnected.Dec()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.wantedLocked(room) {
		v := 0.0
		if up {
			v = 1
		}
		m.roomConnected.WithLabelValues(roomLabel(room)).Set(v)
	}
}

// SetRoomCoverage sets a wanted room's estimated coverage (0–1).
func (m *Metrics) SetRoomCoverage(room int64, ratio float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.wantedLocked(room) {
		m.roomCoverage.WithLabelValues(roomLabel(room)).Set(ratio)
	}
}

// SetRoomSampled records whether a wanted room is known to receive a
// sample (danmakud_rooms_sampled counts them).
func (m *Metrics) SetRoomSampled(room int64, sampled bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case sampled && m.wantedLocked(room):
		m.sampled[room] = true
	case !sampled:
		delete(m.sampled, room)
	}
}

// RoomWaiting moves danmakud_rooms_waiting by delta (+1 when a room
// starts waiting for an account slot, -1 when it stops).
func (m *Metrics) RoomWaiting(delta int) {
	if m != nil {
		m.roomsWaiting.Add(float64(delta))
	}
}

// --- connections and events (collector) ---

// Event counts one event of kind handed to the writer.
func (m *Metrics) Event(kind string) {
	if m != nil {
		m.events.WithLabelValues(kind).Inc()
	}
}

// Frame counts one WebSocket message received.
func (m *Metrics) Frame() {
	if m != nil {
		m.frames.Inc()
	}
}

// BadFrame counts one message or command that could not be decoded.
func (m *Metrics) BadFrame() {
	if m != nil {
		m.badFrames.Inc()
	}
}

// Ack counts one op-24 ack sent.
func (m *Metrics) Ack() {
	if m != nil {
		m.acks.Inc()
	}
}

// Resent counts one re-sent command dropped.
func (m *Metrics) Resent() {
	if m != nil {
		m.resent.Inc()
	}
}

// UnknownCommand counts one command of an unknown type.
func (m *Metrics) UnknownCommand() {
	if m != nil {
		m.unknown.Inc()
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
	m.sessions.WithLabelValues(id).Inc()
}

// Reconnect counts one connection that ended while its room was still
// wanted. reason must come from a small fixed set (collector's end
// reasons; never an error text).
func (m *Metrics) Reconnect(reason string) {
	if m != nil {
		m.reconnects.WithLabelValues(reason).Inc()
	}
}

// TokenReuse counts one reconnect that reused its token.
func (m *Metrics) TokenReuse() {
	if m != nil {
		m.tokenReuse.Inc()
	}
}

// WatchdogRecycle counts one connection recycled for low coverage.
func (m *Metrics) WatchdogRecycle() {
	if m != nil {
		m.recycles.Inc()
	}
}

// Stall counts one connection dropped for silence.
func (m *Metrics) Stall() {
	if m != nil {
		m.stalls.Inc()
	}
}

// AuthRejected counts one refused auth packet.
func (m *Metrics) AuthRejected() {
	if m != nil {
		m.authRejected.Inc()
	}
}

// Upgrade counts one anonymous connection replaced by a logged-in one.
func (m *Metrics) Upgrade() {
	if m != nil {
		m.upgrades.Inc()
	}
}

// Backpressure counts one send that waited for the writer.
func (m *Metrics) Backpressure() {
	if m != nil {
		m.backpressure.Inc()
	}
}

// --- HTTP and logins (roomsource, collect) ---

// HTTPRequest counts one request sent to endpoint (a fixed name such as
// "getDanmuInfo", never a URL) with its status label (see Status*).
func (m *Metrics) HTTPRequest(endpoint, status string) {
	if m != nil {
		m.httpRequests.WithLabelValues(endpoint, status).Inc()
	}
}

// HTTPNotSent counts one request not sent (reason NotSentBreaker or
// NotSentNoBudget).
func (m *Metrics) HTTPNotSent(endpoint, reason string) {
	if m != nil {
		m.httpNotSent.WithLabelValues(endpoint, reason).Inc()
	}
}

// SetAccounts records the last login check: ok accounts logged in,
// lapsed ones refused.
func (m *Metrics) SetAccounts(ok, lapsed int) {
	if m != nil {
		m.accounts.WithLabelValues("ok").Set(float64(ok))
		m.accounts.WithLabelValues("lapsed").Set(float64(lapsed))
	}
}

// LoginLapse counts one login found refused or lapsed.
func (m *Metrics) LoginLapse() {
	if m != nil {
		m.loginLapses.Inc()
	}
}

// --- writer (storage) ---

// SetQueueDepth installs the function danmakud_writer_queue_depth reads
// at each scrape (e.g. the length of the writer's input channel).
func (m *Metrics) SetQueueDepth(fn func() int) {
	if m != nil && fn != nil {
		m.queueFn.Store(&fn)
	}
}

// SetFlushDeadline makes Health report the writer unhealthy when it
// holds records and has not flushed successfully for d (since New when
// it never has). 0, the default, never does.
func (m *Metrics) SetFlushDeadline(d time.Duration) {
	if m != nil {
		m.mu.Lock()
		m.stale = d
		m.mu.Unlock()
	}
}

// WriterRecord counts one record received by the writer; pending is how
// many the writer now holds uncommitted.
func (m *Metrics) WriterRecord(pending int) {
	if m != nil {
		m.records.Inc()
		m.pending.Set(float64(pending))
	}
}

// Flushed records a successful flush that took took: rows inserted per
// table name, rows updated, duplicates ignored; pending is what the
// writer still holds afterwards.
func (m *Metrics) Flushed(took time.Duration, rows map[string]int64, updated, dups int64, pending int) {
	if m == nil {
		return
	}
	for t, n := range rows {
		m.rows.WithLabelValues(t).Add(float64(n))
	}
	m.rowsUpdated.Add(float64(updated))
	m.dups.Add(float64(dups))
	m.flushes.Inc()
	m.flushDuration.Observe(took.Seconds())
	m.pending.Set(float64(pending))
	now := time.Now()
	m.lastFlush.Set(float64(now.UnixNano()) / 1e9)
	m.mu.Lock()
	m.failing, m.flushed = 0, now
	m.mu.Unlock()
}

// FlushFailed records a failed flush (the writer keeps its batch).
func (m *Metrics) FlushFailed() {
	if m == nil {
		return
	}
	m.flushErrs.Inc()
	m.mu.Lock()
	m.failing++
	m.mu.Unlock()
}

// --- reading ---

// Totals are the handle's running totals, as collect's progress line and
// summary print them. Counters sum over their labels.
type Totals struct {
	RoomsDesired, RoomsConnected, RoomsWaiting, RoomsSampled int64

	Events, Frames, BadFrames, Acks, Resent, Unknown int64
	Sessions, LoggedIn, Anonymous                    int64
	Reconnects, TokenReuse, Recycles, Stalls         int64
	AuthRejected, Upgrades, Backpressure             int64

	HTTPRequests    int64 // sent
	HTTPRateLimited int64 // answered 412 / -412
	HTTPRiskControl int64 // answered -352
	HTTPFailed      int64 // no answer, a bad status (not 412) or not the JSON envelope
	HTTPRefused     int64 // not sent: breaker open
	HTTPSkipped     int64 // not sent: no spare budget

	AccountsOK, AccountsLapsed, LoginLapses int64

	Rows, Updated, Dups, Records, Flushes, FlushErrors int64
}

// Totals reads the running totals (zeros for a nil handle).
func (m *Metrics) Totals() Totals {
	var t Totals
	if m == nil {
		return t
	}
	t.RoomsDesired = sum(m.roomsDesired, nil)
	t.RoomsConnected = sum(m.roomsConnected, nil)
	t.RoomsWaiting = sum(m.roomsWaiting, nil)
	m.mu.Lock()
	t.RoomsSampled = int64(len(m.sampled))
	m.mu.Unlock()
	t.Events = sum(m.events, nil)
	t.Frames = sum(m.frames, nil)
	t.BadFrames = sum(m.badFrames, nil)
	t.Acks = sum(m.acks, nil)
	t.Resent = sum(m.resent, nil)
	t.Unknown = sum(m.unknown, nil)
	t.Sessions = sum(m.sessions, nil)
	t.LoggedIn = sum(m.sessions, is("identity", "logged_in"))
	t.Anonymous = sum(m.sessions, is("identity", "anonymous"))
	t.Reconnects = sum(m.reconnects, nil)
	t.TokenReuse = sum(m.tokenReuse, nil)
	t.Recycles = sum(m.recycles, nil)
	t.Stalls = sum(m.stalls, nil)
	t.AuthRejected = sum(m.authRejected, nil)
	t.Upgrades = sum(m.upgrades, nil)
	t.Backpressure = sum(m.backpressure, nil)
	t.HTTPRequests = sum(m.httpRequests, nil)
	t.HTTPRateLimited = sum(m.httpRequests, func(l map[string]string) bool { return l["status"] == "412" || l["status"] == StatusLimited })
	t.HTTPRiskControl = sum(m.httpRequests, is("status", StatusRisk))
	t.HTTPFailed = sum(m.httpRequests, func(l map[string]string) bool { return httpFailed(l["status"]) })
	t.HTTPRefused = sum(m.httpNotSent, is("reason", NotSentBreaker))
	t.HTTPSkipped = sum(m.httpNotSent, is("reason", NotSentNoBudget))
	t.AccountsOK = sum(m.accounts, is("state", "ok"))
	t.AccountsLapsed = sum(m.accounts, is("state", "lapsed"))
	t.LoginLapses = sum(m.loginLapses, nil)
	t.Rows = sum(m.rows, nil)
	t.Updated = sum(m.rowsUpdated, nil)
	t.Dups = sum(m.dups, nil)
	t.Records = sum(m.records, nil)
	t.Flushes = sum(m.flushes, nil)
	t.FlushErrors = sum(m.flushErrs, nil)
	return t
}

// RowsWritten is how many rows were inserted into table so far.
func (m *Metrics) RowsWritten(table string) int64 {
	if m == nil {
		return 0
	}
	return sum(m.rows, is("table", table))
}

// httpFailed says whether a status label counts as a failed request:
// no answer, not the JSON envelope, or an HTTP status other than 200 and
// 412 (a 412 counts as rate limited).
func httpFailed(status string) bool {
	switch status {
	case StatusError, StatusBadJSON:
		return true
	}
	n, err := strconv.Atoi(status)
	return err == nil && n > 0 && n != 200 && n != 412
}

func is(name, value string) func(map[string]string) bool {
	return func(l map[string]string) bool { return l[name] == value }
}

// sum adds up the values of c's series (counters and gauges) whose
// labels keep accepts (nil = all).
func sum(c prometheus.Collector, keep func(map[string]string) bool) int64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	var s float64
	for pm := range ch {
		var d dto.Metric
		if pm.Write(&d) != nil {
			continue
		}
		if keep != nil {
			l := make(map[string]string, len(d.Label))
			for _, lp := range d.Label {
				l[lp.GetName()] = lp.GetValue()
			}
			if !keep(l) {
				continue
			}
		}
		switch {
		case d.Counter != nil:
			s += d.Counter.GetValue()
		case d.Gauge != nil:
			s += d.Gauge.GetValue()
		}
	}
	return int64(s)
}
