// Package metrics is danmakud's one observability seam: a single handle,
// created once per run by the daemon package and handed to roomsource,
// collector and storage as each one's observer, that counts what they
// do. The Prometheus /metrics endpoint, collect's progress line and its
// final summary all read it.
//
// The handle's methods are grouped by the part of danmakud that reports
// them, one file each: rooms.go (the collector's workers and logins),
// http.go (roomsource's requests), writer.go (storage's writer),
// journal.go (the frame journal) and server.go (/healthz and the HTTP
// endpoint).
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Metrics is the handle. Make it with New.
type Metrics struct {
	reg     *prometheus.Registry
	rooms   roomMetrics
	http    httpMetrics
	writer  writerMetrics
	journal journalMetrics
	routes  []route // Handle's, served by Handler
}

// New returns a handle with every danmakud_ metric registered on its own
// registry, plus the Go runtime and process collectors and
// danmakud_build_info{version, goversion}.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.rooms.register(f)
	m.http.register(f)
	m.writer.register(f)
	m.journal.register(f)
	bi := f.gaugeVec("danmakud_build_info", "Always 1; the labels say which danmakud build runs.", "version", "goversion")
	bi.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory makes collectors and registers them on reg.
type factory struct{ reg *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

// gaugeFunc registers a gauge read by calling fn at each scrape. fn must
// not block and must take no lock that anyone holds while calling into a
// collector: Gather calls fn while other collectors hold their vectors'
// locks, and a vector's WithLabelValues waits for those (a room's
// connect, holding its lock, and a scrape reading a count under the same
// lock once hung every connection of a 5,000-room run). Read an atomic.
func (f factory) gaugeFunc(name, help string, fn func() float64) {
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
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

// Totals are the handle's running totals, as collect's progress line and
// summary print them. Counters sum over their labels.
type Totals struct {
	RoomsDesired, RoomsConnected, RoomsWaiting, RoomsSampled, RoomsOverBudget int64

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

	JournalRecords, JournalDropped int64
}

// Totals reads the running totals (zeros for a nil handle).
func (m *Metrics) Totals() Totals {
	var t Totals
	if m == nil {
		return t
	}
	m.rooms.totals(&t)
	m.http.totals(&t)
	m.writer.totals(&t)
	m.journal.totals(&t)
	return t
}

func roomLabel(room int64) string { return strconv.FormatInt(room, 10) }

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
