package daemon_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	dto "github.com/prometheus/client_model/go"
)

// metricsDoc is where the metric names are documented.
const metricsDoc = "../docs/operations.md"

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetricsEndpoint runs collect against the simulator with
// --metrics-addr 127.0.0.1:0, checks /healthz and the metric names while
// it runs, lets every event be flushed, and compares the scraped events
// and rows with what `stats` reports afterwards.
func TestMetricsEndpoint(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 150, Seed: 7, Tick: 50 * time.Millisecond,
		TrafficFor: 3 * time.Second, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "metrics.db")
	cfg := testrun.Config(sim.URL(), db)
	cfg.Top = 3
	cfg.Version = "metrics-test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsListener = ln
	addr := ln.Addr().String()
	run := testrun.Start(t, cfg)

	if !testkit.Until(10*time.Second, func() bool { c, _ := healthz(t, addr); return c == http.StatusOK }) {
		c, body := healthz(t, addr)
		t.Fatalf("/healthz never answered 200: %d %s", c, body)
	}
	if !testkit.Until(10*time.Second, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, addr), "danmakud_room_connected") == 3
	}) {
		t.Errorf("danmakud_room_connected never showed 3 connected rooms")
	}
	// Once the simulator has delivered everything, wait for the writer to
	// commit it: every danmaku event a row, the same in two scrapes.
	if !testkit.Until(10*time.Second, sim.Idle) {
		t.Fatal("the simulator never went idle")
	}
	var fams map[string]*dto.MetricFamily
	var last float64 = -1
	if !testkit.Until(10*time.Second, func() bool {
		fams = testkit.Scrape(t, addr)
		ev := testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku")
		rows := testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "danmaku")
		stable := ev > 0 && ev == rows && ev == last
		last = ev
		return stable
	}) {
		t.Fatalf("danmaku events %v never all written (rows %v)", testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku"),
			testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "danmaku"))
	}
	if c, body := healthz(t, addr); c != http.StatusOK || !strings.HasPrefix(body, "ok") || strings.Count(body, "\n") != 1 {
		t.Errorf("/healthz during the run: %d %q", c, body)
	}

	for _, name := range []string{
		"danmakud_rooms_desired", "danmakud_rooms_connected", "danmakud_rooms_sampled", "danmakud_rooms_waiting",
		"danmakud_room_connected", "danmakud_events_total", "danmakud_frames_total", "danmakud_bad_frames_total",
		"danmakud_acks_total", "danmakud_resent_commands_dropped_total", "danmakud_unknown_commands_total",
		"danmakud_sessions_total", "danmakud_token_reuses_total", "danmakud_watchdog_recycles_total",
		"danmakud_stalls_total", "danmakud_auth_rejected_total", "danmakud_upgrades_total",
		"danmakud_writer_backpressure_waits_total", "danmakud_http_requests_total", "danmakud_accounts",
		"danmakud_login_lapses_total", "danmakud_rows_written_total", "danmakud_rows_updated_total",
		"danmakud_duplicates_ignored_total", "danmakud_writer_records_total", "danmakud_flushes_total",
		"danmakud_flush_errors_total", "danmakud_flush_duration_seconds", "danmakud_writer_pending_records",
		"danmakud_writer_queue_depth", "danmakud_last_flush_timestamp_seconds", "danmakud_build_info",
		"go_goroutines", "process_start_time_seconds",
	} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// Every danmakud metric scraped is documented.
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for name := range fams {
		if strings.HasPrefix(name, "danmakud_") && !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("metric %s is not listed in %s", name, metricsDoc)
		}
	}
	if v := testkit.MetricValue(fams, "danmakud_rooms_desired"); v != 3 {
		t.Errorf("rooms desired %v, want 3", v)
	}
	if v := testkit.MetricValue(fams, "danmakud_sessions_total", "identity", "anonymous"); v < 3 {
		t.Errorf("anonymous sessions %v, want ≥ 3", v)
	}
	if v := testkit.MetricValue(fams, "danmakud_http_requests_total", "endpoint", "getDanmuInfo", "status", "200"); v < 3 {
		t.Errorf("getDanmuInfo 200s %v, want ≥ 3", v)
	}
	if v := testkit.MetricValue(fams, "danmakud_flush_duration_seconds"); v < 1 || v != testkit.MetricValue(fams, "danmakud_flushes_total") {
		t.Errorf("flush duration observations %v, flushes %v", v, testkit.MetricValue(fams, "danmakud_flushes_total"))
	}
	if v := testkit.MetricValue(fams, "danmakud_build_info", "version", cfg.Version); v != 1 {
		t.Errorf("build info for version %q: %v", cfg.Version, v)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(strings.ToLower(l.GetValue()), "sessdata") || strings.Contains(l.GetValue(), "key=") {
					t.Errorf("%s: label %s=%q looks like a secret", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}

	if _, err := run.Stop(); err != nil {
		t.Fatalf("collect: %v", err)
	}
	st := testkit.Summary(t, db)
	var danmaku int64
	for _, r := range st.Rooms {
		danmaku += r.Kinds["danmaku"]
	}
	if float64(st.Rows["danmaku"]) != testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "danmaku") ||
		float64(danmaku) != testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku") {
		t.Errorf("stats: %d danmaku rows (%d by room); /metrics said %v rows, %v events", st.Rows["danmaku"], danmaku,
			testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "danmaku"), testkit.MetricValue(fams, "danmakud_events_total", "kind", "danmaku"))
	}
	if float64(st.Rows["gifts"]) < testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "gifts") {
		t.Errorf("stats: %d gift rows, fewer than /metrics' %v", st.Rows["gifts"], testkit.MetricValue(fams, "danmakud_rows_written_total", "table", "gifts"))
	}
	if c, err := http.Get("http://" + addr + "/metrics"); err == nil {
		c.Body.Close()
		t.Errorf("the metrics server still answers after collect returned")
	}
}
