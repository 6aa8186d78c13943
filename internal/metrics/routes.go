package metrics

import "net/http"

// route is a handler Handle added to the endpoint.
type route struct {
	pattern string
	h       http.Handler
}

// Handle adds h at pattern (an http.ServeMux pattern such as "GET
// /api/status") to what Handler serves beside /metrics and /healthz: the
// status page, and Go's profiles with --pprof. Call it before Handler,
// Serve or ServeOn; it is not safe for concurrent use. A nil handle
// ignores it.
func (m *Metrics) Handle(pattern string, h http.Handler) {
	if m != nil {
		m.routes = append(m.routes, route{pattern, h})
	}
}
