// Package testkit is what the tests of several packages share: one way
// to wait for a condition, simulated logins, the HTTP fault proxy, an RSS
// sampler, the facts a test reads back from a database and a scrape of a
// /metrics endpoint. Test code only; it imports no package that imports
// it (collector's in-package tests use it), so the daemon's helpers are
// in internal/testrun.
package testkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Soak says whether the long versions of the tests run (DANMAKUD_SOAK=1).
func Soak() bool { return os.Getenv("DANMAKUD_SOAK") == "1" }

// Until checks cond every 10 ms until it holds or d has passed, and
// returns its last result.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		<-t.C
	}
	return true
}

// Poll is Until that fails the test, saying what did not happen.
func Poll(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(d, cond) {
		t.Fatalf("%s did not happen within %v", what, d)
	}
}

// SimAccounts returns the simulator's first n accounts as logins.
func SimAccounts(t testing.TB, sim *livesim.Sim, n int) []*roomsource.Account {
	t.Helper()
	var accts []*roomsource.Account
	for i := 1; i <= n; i++ {
		a, err := roomsource.NewAccount(fmt.Sprintf("account-%d", i), sim.AccountCookies(i))
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a)
	}
	return accts
}

// SimCookieFiles writes the simulator's first n accounts as cookie files
// (mode 0600), as `danmakud sim --accounts N --cookie-dir DIR` does.
func SimCookieFiles(t testing.TB, sim *livesim.Sim, n int) []string {
	t.Helper()
	var files []string
	for i := 1; i <= n; i++ {
		f := filepath.Join(t.TempDir(), fmt.Sprintf("account-%d.txt", i))
		if err := roomsource.WriteCookieFile(f, sim.AccountCookies(i)); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// Summary is `stats` of the database at path.
func Summary(t testing.TB, path string) *storage.Summary {
	t.Helper()
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	s, err := db.Summarize(context.Background())
	if err != nil {
		t.Fatalf("stats of %s: %v", path, err)
	}
	return s
}

// Facts are what a test checks of a database after a crash or a failure.
type Facts struct {
	Integrity string // PRAGMA integrity_check
	Danmaku   int64  // rows
	Runs      int64
	Unended   int64 // runs without an exit_status
}

// ReadFacts reads Facts of the database at path; a path that does not
// exist gives the zero Facts.
func ReadFacts(t testing.TB, path string) Facts {
	t.Helper()
	var f Facts
	if _, err := os.Stat(path); err != nil {
		return f
	}
	d, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("open %s after the run: %v", path, err)
	}
	defer d.Close()
	if err := d.SQL.QueryRow("PRAGMA integrity_check").Scan(&f.Integrity); err != nil {
		t.Fatal(err)
	}
	d.SQL.QueryRow("SELECT count(*) FROM danmaku").Scan(&f.Danmaku)
	d.SQL.QueryRow("SELECT count(*), count(*) - count(exit_status) FROM runs").Scan(&f.Runs, &f.Unended)
	return f
}

// SampleRSS samples this process's resident set size (bytes) about 40
// times over d, until the returned func is called, which returns them
// (later calls return the same).
func SampleRSS(d time.Duration) func() []int64 {
	stop, done := make(chan struct{}), make(chan []int64, 1)
	var once sync.Once
	var samples []int64
	go func() {
		var out []int64
		tick := time.NewTicker(max(d/40, 100*time.Millisecond))
		defer tick.Stop()
		for {
			if b, err := os.ReadFile("/proc/self/statm"); err == nil {
				var size, res int64
				fmt.Sscan(string(b), &size, &res)
				out = append(out, res*int64(os.Getpagesize()))
			}
			select {
			case <-stop:
				done <- out
				return
			case <-tick.C:
			}
		}
	}()
	return func() []int64 {
		once.Do(func() { close(stop); samples = <-done })
		return samples
	}
}

// APIFaults stands between a client and the simulator's HTTP API and
// answers some requests itself: with Storm set, every request 412; with
// EmptyList, the room list (getListByAreaID) an empty array; with Hang,
// getDanmuInfo never: it holds the request until the client gives up (at
// most 5 s). Everything else goes to the simulator, so the WebSocket hosts
// that getDanmuInfo names are the simulator's own. It records each
// request: when it arrived, its endpoint and how it was answered. Its
// methods are safe for concurrent use.
type APIFaults struct {
	Storm, EmptyList, Hang atomic.Bool
	URL                    string // the proxy's base URL
	mu                     sync.Mutex
	reqs                   []apiRequest
}

// Answer is how APIFaults answered a request.
type Answer int

const (
	Forwarded Answer = iota // passed to the simulator
	Refused                 // 412 (Storm)
	Emptied                 // an empty room list (EmptyList)
	Held                    // held until the client gave up (Hang)
)

type apiRequest struct {
	at       time.Time
	endpoint string
	answer   Answer
}

// NewAPIFaults starts a proxy to target (closed when the test ends).
func NewAPIFaults(t testing.TB, target string) *APIFaults {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &APIFaults{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint := path.Base(r.URL.Path)
		answer := Forwarded
		switch {
		case f.Storm.Load():
			answer = Refused
		case f.EmptyList.Load() && endpoint == "getListByAreaID":
			answer = Emptied
		case f.Hang.Load() && endpoint == "getDanmuInfo":
			answer = Held
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, apiRequest{time.Now(), endpoint, answer})
		f.mu.Unlock()
		switch answer {
		case Refused:
			w.WriteHeader(http.StatusPreconditionFailed)
		case Emptied:
			io.WriteString(w, `{"code":0,"message":"0","data":[]}`)
		case Held:
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Requests is how many requests arrived so far.
func (f *APIFaults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// Count is how many requests for endpoint (the last element of the path,
// e.g. "getDanmuInfo"; "" for every endpoint) were answered a so far.
func (f *APIFaults) Count(endpoint string, a Answer) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if r.answer == a && (endpoint == "" || r.endpoint == endpoint) {
			n++
		}
	}
	return n
}

// MaxInWindow is the most requests that arrived within any window w, and
// the total.
func (f *APIFaults) MaxInWindow(w time.Duration) (best, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := 0
	for i := range f.reqs {
		for f.reqs[i].at.Sub(f.reqs[j].at) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best, len(f.reqs)
}

// FetchMetrics fetches http://addr/metrics and parses it (the Prometheus
// text format).
func FetchMetrics(addr string) (map[string]*dto.MetricFamily, error) {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(res.Body)
}

// Scrape is FetchMetrics that fails the test on an error.
func Scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := FetchMetrics(addr)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return fams
}

// MetricValue sums a family's series whose labels include every pair in
// match (name, value, name, value, …): counters and gauges by value,
// histograms by their sample count. A family that is absent is 0.
func MetricValue(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	var s float64
	f := fams[name]
	if f == nil {
		return 0
	}
series:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(match); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == match[i] && l.GetValue() == match[i+1] {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			s += m.Counter.GetValue()
		case m.Gauge != nil:
			s += m.Gauge.GetValue()
		case m.Histogram != nil:
			s += float64(m.Histogram.GetSampleCount())
		}
	}
	return s
}
