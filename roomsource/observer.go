package roomsource

// Observer is told about every Bilibili HTTP request a Client sends or
// declines to send, for metrics. Its methods are called from the
// goroutines that make the requests, often several at once: they must be
// safe for concurrent use and must not block. Config.Observer nil means
// nothing is told. Arguments are fixed names, never URLs, cookies or
// tokens.
type Observer interface {
	// HTTPRequest: one request to endpoint (a fixed name such as
	// "getDanmuInfo") was sent; status is its outcome: the HTTP status
	// code ("200", "412", "503", …) or one of the Status* values.
	HTTPRequest(endpoint, status string)
	// HTTPNotSent: one request to endpoint was not sent; reason is one of
	// the NotSent* values.
	HTTPNotSent(endpoint, reason string)
}

// Outcomes of a sent request that Observer.HTTPRequest reports besides
// an HTTP status code.
const (
	StatusError    = "error"     // no answer: network error or unreadable body
	StatusBadJSON  = "bad_json"  // HTTP 200 but the body is not the JSON envelope
	StatusAPIError = "api_error" // HTTP 200, envelope code not 0, -352 or -412
	StatusRisk     = "-352"      // HTTP 200, envelope code -352 (risk control)
	StatusLimited  = "-412"      // envelope code -412 (rate limited)
)

// Why a request was not sent (Observer.HTTPNotSent).
const (
	NotSentBreaker  = "breaker_open"    // the 412 breaker was open
	NotSentNoBudget = "no_spare_budget" // a background request found no spare token
)

// nopObserver is the Observer of a Client configured without one.
type nopObserver struct{}

func (nopObserver) HTTPRequest(endpoint, status string) {}
func (nopObserver) HTTPNotSent(endpoint, reason string) {}
