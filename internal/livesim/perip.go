package livesim

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// client is what the simulator keeps per source IP, as Bilibili's risk
// control does: its HTTP budget and 412 ban, its identity violations and
// -352 ban, its open danmaku connections against IPConnLimit, and the
// counters IPStats reports.
type client struct {
	lim      *rate.Limiter
	mu       sync.Mutex
	until    time.Time
	viol     []time.Time // recent identity violations, oldest first
	until352 time.Time
	paths    map[string]int64 // HTTP requests by path (mu)

	conns, open, peak, overLimit atomic.Int64 // danmaku connections
	http, http412                atomic.Int64

	// reference: the IP is one of Options.ReferenceIPs (no limits; what
	// it is sent is not delivered in Truth).
	reference bool
}

// IPStats are one source IP's counters: what a test checks per shard.
type IPStats struct {
	// Connections are the danmaku connections accepted (WebSocket and
	// raw TCP); Open those open now; PeakConnections the most open at
	// once, counting those over the limit; OverLimit those cut after
	// their auth reply for exceeding Options.IPConnLimit.
	Connections     int64 `json:"connections"`
	Open            int64 `json:"open"`
	PeakConnections int64 `json:"peak_connections"`
	OverLimit       int64 `json:"over_limit"`
	// HTTPRequests are the HTTP API requests received (the WebSocket
	// upgrade is not one), HTTP412 those answered 412 (over budget,
	// banned, or the HTTP412 fault); Paths counts the requests by URL
	// path.
	HTTPRequests int64            `json:"http_requests"`
	HTTP412      int64            `json:"http_412"`
	Paths        map[string]int64 `json:"paths"`
}

// IPStats returns the counters of every source IP seen so far, by IP.
func (s *Sim) IPStats() map[string]IPStats {
	out := map[string]IPStats{}
	s.clients.Range(func(k, v any) bool {
		c := v.(*client)
		c.mu.Lock()
		paths := maps.Clone(c.paths)
		c.mu.Unlock()
		out[k.(string)] = IPStats{Connections: c.conns.Load(), Open: c.open.Load(), PeakConnections: c.peak.Load(), OverLimit: c.overLimit.Load(),
			HTTPRequests: c.http.Load(), HTTP412: c.http412.Load(), Paths: paths}
		return true
	})
	return out
}

// clientFor returns the state of the client at IP host.
func (s *Sim) clientFor(host string) *client {
	if v, ok := s.clients.Load(host); ok {
		return v.(*client)
	}
	v, _ := s.clients.LoadOrStore(host, &client{lim: rate.NewLimiter(rate.Limit(s.opts.HTTPRate), s.opts.HTTPBurst),
		paths: map[string]int64{}, reference: s.reference[host]})
	return v.(*client)
}

// request counts one HTTP request to path.
func (c *client) request(path string) {
	c.http.Add(1)
	c.mu.Lock()
	c.paths[path]++
	c.mu.Unlock()
}

// opened counts a new danmaku connection and reports whether it is over
// limit (0: no limit; a reference IP has none), i.e. is to be cut after
// its auth reply.
func (c *client) opened(limit int) (over bool) {
	c.conns.Add(1)
	n := c.open.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return limit > 0 && n > int64(limit) && !c.reference
}

// closed counts the end of a danmaku connection.
func (c *client) closed() { c.open.Add(-1) }

// violation counts one identity violation by the client at IP host; at
// ViolationLimit within ViolationWindow the client is refused
// getDanmuInfo (-352) for ViolationBan.
func (s *Sim) violation(host string) {
	s.stats.Violations.Add(1)
	c := s.clientFor(host)
	o := &s.opts
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	i := 0
	for i < len(c.viol) && now.Sub(c.viol[i]) > o.ViolationWindow {
		i++
	}
	c.viol = append(c.viol[i:], now)
	if len(c.viol) >= o.ViolationLimit {
		c.until352 = now.Add(o.ViolationBan)
		c.viol = c.viol[:0]
	}
}

// banned352 reports whether the client is serving a violation ban (a
// reference IP never is).
func (c *client) banned352() bool {
	if c.reference {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Before(c.until352)
}

// refuse spends one request of the client's budget (Options.HTTPRate,
// HTTPBurst: every IP has its own) and reports whether the request is
// refused: over budget, or within the BanFor ban that going over it
// started. A reference IP has no budget.
func (c *client) refuse(banFor time.Duration) bool {
	if c.reference {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Before(c.until) {
		return true
	}
	if !c.lim.AllowN(now, 1) {
		c.until = now.Add(banFor)
		return true
	}
	return false
}
