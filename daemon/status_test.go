package daemon_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
)

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestStatusPageAndPprof: with Pprof the metrics address serves Go's
// profiles of the running process beside the status page, whose JSON
// says the run's phase and rooms and never a cookie.
func TestStatusPageAndPprof(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 60, Seed: 3, Accounts: 1, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testrun.Config(sim.URL(), filepath.Join(t.TempDir(), "s.db"))
	cfg.Top, cfg.Pprof, cfg.Version = 3, true, "status-test"
	cfg.Accounts = testkit.SimAccounts(t, sim, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsListener = ln
	base := "http://" + ln.Addr().String()
	run := testrun.Start(t, cfg)

	var st struct {
		Run    map[string]any   `json:"run"`
		Rooms  []map[string]any `json:"rooms"`
		Totals map[string]any   `json:"totals"`
	}
	var body string
	testkit.Poll(t, 20*time.Second, "3 rooms connected on /api/status", func() bool {
		_, body = fetch(t, base+"/api/status")
		return json.Unmarshal([]byte(body), &st) == nil && st.Totals["connected"] == 3.0
	})
	if st.Run["phase"] != "collecting" || st.Run["version"] != "status-test" || st.Run["accounts"] != 1.0 {
		t.Errorf("run: %v", st.Run)
	}
	secret := ""
	for _, c := range sim.AccountCookies(1) {
		if c.Name == "SESSDATA" {
			secret = c.Value
		}
	}
	if secret == "" || strings.Contains(body, secret) {
		t.Errorf("the cookie is on /api/status (or the test has none: %q)", secret)
	}
	if code, page := fetch(t, base+"/"); code != 200 || !strings.Contains(page, "status-test") || strings.Contains(page, secret) {
		t.Errorf("status page: %d", code)
	}
	if code, heap := fetch(t, base+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(heap, "heap profile") {
		t.Errorf("/debug/pprof/heap: %d %.80q", code, heap)
	}
	if code, idx := fetch(t, base+"/debug/pprof/"); code != 200 || !strings.Contains(idx, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if _, err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}
