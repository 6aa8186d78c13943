// Package statuspage serves a running collect's status for people and
// programs, on the --metrics-addr server beside /metrics: GET / is a
// read-only HTML page (server-rendered with html/template; no script)
// with the run's header, one row per wanted room and the totals, sorted,
// filtered and paged on the server, so that it stays fast at 10,000
// rooms; GET /api/status is the same as JSON.
//
// Everything that came from Bilibili (titles, names, areas, error texts)
// is escaped by html/template; the snapshot carries no cookie, token or
// URL with a secret, so nothing can show one.
package statuspage

import (
	"net/http"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/metrics"
)

// Run is what the page's header says of the run.
type Run struct {
	Version string
	Started time.Time
	DB      string
	// Phase is "starting" (before the collection has rooms), "collecting"
	// or "stopping".
	Phase string
	// Accounts is how many logins were given (0 = an anonymous run).
	Accounts int
	// HTTPRate is the HTTP budget, requests per second to Bilibili.
	HTTPRate float64
	// BreakerOpenUntil is when requests resume after a 412 (zero or past:
	// the breaker is closed).
	BreakerOpenUntil time.Time
}

// Snapshot is everything one page or /api/status answer shows, read at
// one moment.
type Snapshot struct {
	Run    Run
	Status collector.Status // the rooms; Status.At is the snapshot's time
	Totals metrics.Totals   // the run's counters, as /metrics exports them
}

// Page serves the status page and /api/status from the snapshots its
// source returns. Safe for concurrent use.
type Page struct {
	source func() Snapshot
}

// New returns a Page reading source for every request; source must be
// safe for concurrent use and should be quick (it is called once per
// request).
func New(source func() Snapshot) *Page { return &Page{source: source} }

// Register adds the page's routes to mux: GET / (the page) and GET
// /api/status (JSON).
func (p *Page) Register(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET /{$}", http.HandlerFunc(p.serveHTML))
	mux.Handle("GET /api/status", http.HandlerFunc(p.serveJSON))
}
