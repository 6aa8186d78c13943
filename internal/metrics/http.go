package metrics

import (
	"strconv"

	"github.com/danmakud/danmakud/roomsource"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are what roomsource's client reports (roomsource.Observer):
// every Bilibili request, sent or not. The status and reason labels take
// roomsource's values (an HTTP status code or roomsource.Status*,
// roomsource.NotSent*).
type httpMetrics struct {
	requests, notSent *prometheus.CounterVec
}

func (h *httpMetrics) register(f factory) {
	h.requests = f.counterVec("danmakud_http_requests_total", "Bilibili HTTP requests sent, by endpoint and status: the HTTP status code, or -352 / -412 / api_error for a non-zero envelope code in an HTTP 200 answer, bad_json, or error (no answer).", "endpoint", "status")
	h.notSent = f.counterVec("danmakud_http_requests_not_sent_total", "Bilibili HTTP requests not sent, by endpoint and reason (breaker_open after a 412, no_spare_budget for background checks).", "endpoint", "reason")
}

func (h *httpMetrics) totals(t *Totals) {
	t.HTTPRequests = sum(h.requests, nil)
	t.HTTPRateLimited = sum(h.requests, func(l map[string]string) bool { return l["status"] == "412" || l["status"] == roomsource.StatusLimited })
	t.HTTPRiskControl = sum(h.requests, is("status", roomsource.StatusRisk))
	t.HTTPFailed = sum(h.requests, func(l map[string]string) bool { return httpFailed(l["status"]) })
	t.HTTPRefused = sum(h.notSent, is("reason", roomsource.NotSentBreaker))
	t.HTTPSkipped = sum(h.notSent, is("reason", roomsource.NotSentNoBudget))
}

// httpFailed says whether a status label counts as a failed request:
// no answer, not the JSON envelope, or an HTTP status other than 200 and
// 412 (a 412 counts as rate limited).
func httpFailed(status string) bool {
	switch status {
	case roomsource.StatusError, roomsource.StatusBadJSON:
		return true
	}
	n, err := strconv.Atoi(status)
	return err == nil && n > 0 && n != 200 && n != 412
}

// HTTPRequest counts one request sent to endpoint (a fixed name such as
// "getDanmuInfo", never a URL) with its status label: the HTTP status
// code or one of roomsource.Status*.
func (m *Metrics) HTTPRequest(endpoint, status string) {
	if m != nil {
		m.http.requests.WithLabelValues(endpoint, status).Inc()
	}
}

// HTTPNotSent counts one request not sent (reason roomsource.NotSent*).
func (m *Metrics) HTTPNotSent(endpoint, reason string) {
	if m != nil {
		m.http.notSent.WithLabelValues(endpoint, reason).Inc()
	}
}
