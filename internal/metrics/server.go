package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health says whether the run is healthy: the writer's last flush
// succeeded (or none has been tried yet), it has not held records longer
// than SetFlushDeadline's d without a successful flush, and at least one
// room is connected or none is wanted. reason is one line either way. A
// nil handle is healthy.
func (m *Metrics) Health() (ok bool, reason string) {
	if m == nil {
		return true, "ok: no metrics"
	}
	failing, flushed, since, stale := m.writer.flushState()
	desired := m.rooms.wantedCount()
	connected := sum(m.rooms.connected, nil)
	if failing > 0 {
		return false, fmt.Sprintf("writer failing: the last %d flushes failed", failing)
	}
	if stale > 0 && time.Since(since) > stale && sum(m.writer.pending, nil) > 0 {
		return false, fmt.Sprintf("writer stuck: no successful flush for %s with records waiting", time.Since(since).Round(time.Second))
	}
	if desired > 0 && connected == 0 {
		return false, fmt.Sprintf("no room connected (%d wanted)", desired)
	}
	last := "no flush yet"
	if !flushed.IsZero() {
		last = "last flush " + time.Since(flushed).Round(time.Second).String() + " ago"
	}
	return true, fmt.Sprintf("ok: %d of %d wanted rooms connected, %s", connected, desired, last)
}

// Handler serves GET /metrics (the Prometheus text or protobuf format,
// as negotiated), GET /healthz (200 or 503 with Health's reason as
// one line of text/plain) and what Handle added. Everything else is 404.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
		for _, r := range m.routes {
			mux.Handle(r.pattern, r.h)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, reason := m.Health()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, reason)
	})
	return mux
}

// Server is a running /metrics and /healthz endpoint.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// Serve listens on addr ("host:port"; port 0 picks a free one) and serves
// Handler until Close. It returns once the listener is open.
func (m *Metrics) Serve(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	return m.ServeOn(ln), nil
}

// ServeOn serves Handler on ln until Close (which closes ln).
func (m *Metrics) ServeOn(ln net.Listener) *Server {
	s := &Server{ln: ln, done: make(chan error, 1),
		srv: &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

// Addr is the address the server listens on (with the chosen port).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, waiting at most a few seconds for scrapes in
// flight, and returns when its goroutine has exited.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
