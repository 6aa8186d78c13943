package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/storage"
)

// apiFaults stands between collect and the simulator's HTTP API: storm
// answers every request 412, emptyList answers the room list with an
// empty array. It records when each request arrived. The WebSocket hosts
// that getDanmuInfo names are the simulator's own.
type apiFaults struct {
	storm, emptyList atomic.Bool
	mu               sync.Mutex
	at               []time.Time
	srv              *httptest.Server
}

func newAPIFaults(t *testing.T, target string) *apiFaults {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFaults{}
	rp := httputil.NewSingleHostReverseProxy(u)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.at = append(f.at, time.Now())
		f.mu.Unlock()
		switch {
		case f.storm.Load():
			w.WriteHeader(http.StatusPreconditionFailed)
		case f.emptyList.Load() && strings.HasSuffix(r.URL.Path, "/getListByAreaID"):
			io.WriteString(w, `{"code":0,"message":"0","data":[]}`)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *apiFaults) maxInWindow(w time.Duration) (best, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := 0
	for i := range f.at {
		for f.at[i].Sub(f.at[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best, len(f.at)
}

// TestCollectAPIStorm: a running collect meets 412 on every request for
// 2 s, then an empty room list for 1.5 s, while the simulator drops
// connections and refuses some auths (so rooms need new tokens). The
// requests never exceed the limiter, no room is torn down by the failed
// or suspicious discovery rounds, and every room is connected again
// after the API recovers.
func TestCollectAPIStorm(t *testing.T) {
	t.Parallel()
	sim, err := livesim.New(livesim.Options{Rooms: 5, Rate: 200, Seed: 21, DropEvery: 1500 * time.Millisecond,
		AuthReject: 0.2, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	faults := newAPIFaults(t, sim.URL())
	db := filepath.Join(t.TempDir(), "storm.db")
	o := collectOptions{top: 5, db: db, duration: 9 * time.Second, flushInterval: 500 * time.Millisecond,
		refresh: 300 * time.Millisecond, apiBase: faults.srv.URL, quiet: true, httpRate: 4, heartbeat: time.Second,
		finalFlush: 30 * time.Second, stdout: io.Discard, stderr: io.Discard, spread: 200 * time.Millisecond,
		backoffMin: 100 * time.Millisecond, backoffMax: time.Second, healthyAfter: 500 * time.Millisecond,
		breakerPause: 300 * time.Millisecond, perAccount: collector.DefaultRoomsPerAccount, logFormat: "text", anonymous: true}
	start := time.Now()
	var stormEnd, listEnd time.Time
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		time.Sleep(2 * time.Second)
		faults.storm.Store(true)
		time.Sleep(2 * time.Second)
		faults.emptyList.Store(true)
		stormEnd = time.Now()
		faults.storm.Store(false)
		time.Sleep(1500 * time.Millisecond)
		listEnd = time.Now()
		faults.emptyList.Store(false)
	}()
	if err := o.run(context.Background(), "storm"); err != nil {
		t.Fatalf("collect: %v", err)
	}
	<-faultsDone
	deadline := start.Add(o.duration)
	// collect's limiter: 4/s, burst 8 → at most 12 in any second.
	best, total := faults.maxInWindow(time.Second)
	if best > 12 {
		t.Errorf("%d requests within one second; the limiter allows 12", best)
	}
	d, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var after, tornDown, storm412 int
	// Connected after the API recovered: a connection authenticated and
	// still up after the storm and the empty list (a new one, or one that
	// survived them).
	d.SQL.QueryRow("SELECT count(DISTINCT room_id) FROM connections WHERE authed_ms IS NOT NULL AND coalesce(ended_ms, ?1 + 1) > ?1",
		listEnd.UnixMilli()).Scan(&after)
	// A room removed by discovery has its connection ended "stopped"
	// before the run's end.
	d.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'stopped' AND ended_ms < ?", deadline.Add(-100*time.Millisecond).UnixMilli()).Scan(&tornDown)
	d.SQL.QueryRow("SELECT count(*) FROM connections WHERE end_reason = 'rate_limited'").Scan(&storm412)
	t.Logf("storm %v–%v, empty list until %v: %d HTTP requests, max %d in one second; %d attempts refused by 412/breaker; %d rooms connected after recovery",
		time.Duration(2*time.Second), stormEnd.Sub(start).Round(time.Millisecond), listEnd.Sub(start).Round(time.Millisecond), total, best, storm412, after)
	if after != 5 {
		t.Errorf("%d of 5 rooms connected again after the API recovered", after)
	}
	if tornDown != 0 {
		t.Errorf("%d connections stopped before the run's end: a failed or empty discovery round tore rooms down", tornDown)
	}
	if storm412 == 0 {
		t.Errorf("no reconnect met the storm: the test tested nothing")
	}
}

// TestCollectStartupFailures: an unreachable API and a 412 at start end
// collect with exit 1 within --duration (no retrying forever), the 412
// case saying when to try again; a database held by another collect is
// named in the refusal (exit 4). The run rows say why they ended.
func TestCollectStartupFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sim, err := livesim.New(livesim.Options{Rooms: 2, Seed: 41})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	faults := newAPIFaults(t, sim.URL())
	faults.storm.Store(true)
	for _, c := range []struct {
		name, base string
		want       []string
	}{
		{"unreachable", "http://127.0.0.1:1", []string{"cannot reach the Bilibili API"}},
		{"412", faults.srv.URL, []string{"cannot reach the Bilibili API", "rate-limiting this address (412): try again after"}},
	} {
		db := filepath.Join(dir, c.name+".db")
		start := time.Now()
		code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", c.base, "--duration", "3s", "--anonymous", "--quiet")
		if code != exitFailure {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, exitFailure, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: stderr does not say %q: %s", c.name, w, errs)
			}
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("%s: gave up after %v with --duration 3s", c.name, took)
		}
		f := readFacts(t, db)
		if f.runs != 1 || f.unended != 0 {
			t.Errorf("%s: runs %+v", c.name, f)
		}
	}
	// Another collect holds the file: the refusal names it.
	db := filepath.Join(dir, "held.db")
	held, err := storage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, errs := runCLI(t, "", "collect", "--db", db, "--api-base", sim.URL(), "--duration", "1s", "--lock-wait", "0", "--anonymous")
	if code != exitLocked || !strings.Contains(errs, db) || strings.Contains(errs, ".lock") {
		t.Errorf("held database: exit %d, stderr %q (want exit %d naming %s, no .lock file)", code, errs, exitLocked, db)
	}
}
