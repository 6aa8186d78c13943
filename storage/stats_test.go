package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/protocol"
)

// writeInternal runs a writer over recs and waits for its final flush;
// the returned metrics handle saw what the writer did.
func writeInternal(t *testing.T, db *DB, runID int64, recs ...Record) *metrics.Metrics {
	t.Helper()
	mx := metrics.New("test")
	w := NewWriter(db, WriterOptions{RunID: runID, FlushInterval: time.Hour, Observer: mx})
	ch := make(chan Record, len(recs))
	for _, r := range recs {
		ch <- r
	}
	close(ch)
	if err := w.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	return mx
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestSummaryCoverageAndWanted: coverage per room is Σ arrived / Σ seen
// times the connected share (null when CoverageEstimate cannot say);
// wanted time runs from the first round that listed the room in a run
// (else its first connection) to its last connection's end (else the
// run's end, else now), summed over runs; connected time stops at the
// connection's end, else the run's, else now.
func TestSummaryCoverageAndWanted(t *testing.T) {
	db := openInternal(t)
	if _, err := db.SQL.Exec(`INSERT INTO runs (id, started_ms, ended_ms, version, args) VALUES (1, 0, 100000, 't', ''), (2, 140000, NULL, 't', '')`); err != nil {
		t.Fatal(err)
	}
	writeInternal(t, db, 1,
		// room 5, run 1: 10 s … 50 s, then 60 s … (no end: the run's end, 100 s)
		Conn{Seq: 1, RoomID: 5, StartedMs: 10000, AuthedMs: 11000, EndedMs: 50000, EndReason: "stalled: x", HistSeen: 100, HistArrived: 100, UID: 9},
		Conn{Seq: 2, RoomID: 5, StartedMs: 60000, AuthedMs: 61000, HistSeen: 70, HistArrived: 60, Anonymous: true, Sampled: true, Acks: 4},
		// room 6: never authenticated, few samples
		Conn{Seq: 3, RoomID: 6, StartedMs: 20000, EndedMs: 21000, EndReason: "auth_rejected", HistSeen: 3, HistArrived: 1},
		Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: protocol.KindDanmaku, Cmd: "DANMU_MSG", RoomID: 5}, IDStr: "a"}, RecvMs: 12000},
		Snapshot{Round: 1, AtMs: 5000, RoomID: 5, Rank: 1, Desired: true}, // listed 5 s before its first connect
	)
	// room 5, run 2 (running): 150 s … now (200 s)
	writeInternal(t, db, 2, Conn{Seq: 1, RoomID: 5, StartedMs: 150000, AuthedMs: 151000})
	s, err := db.summarize(context.Background(), 200000)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Connections) != 2 {
		t.Fatalf("connections %+v", s.Connections)
	}
	c5, c6 := s.Connections[0], s.Connections[1]
	// wanted: run 1 100-5 = 95 s, run 2 200-150 = 50 s; connected 39 + 39 + 49 s
	if c5.RoomID != 5 || !near(c5.Wanted, 145) || !near(c5.Connected, 127) || !near(c5.ConnectedShare, 127.0/145) ||
		c5.Connections != 3 || c5.Reconnects != 2 || c5.Stalled != 1 || c5.Anonymous != 1 || c5.Sampled != 1 || c5.Acks != 4 {
		t.Errorf("room 5: %+v", c5)
	}
	if c5.Coverage == nil || !near(*c5.Coverage, 160.0/170*127/145) || c5.HistSeen != 170 || c5.HistArrived != 160 {
		t.Errorf("room 5 coverage %v (%d/%d)", c5.Coverage, c5.HistArrived, c5.HistSeen)
	}
	if c6.Coverage != nil || c6.Connected != 0 || !near(c6.Wanted, 1) || c6.ConnectedShare != 0 {
		t.Errorf("room 6: %+v", c6)
	}
	// The interval is the history share's times the connected share, at
	// any number of judged items: room 6 (3 judged, never connected) has
	// one, [0, 0].
	lo, hi, _ := CoverageInterval(170, 160)
	if iv := c5.CoverageInterval; iv == nil || !near(iv[0], lo*127/145) || !near(iv[1], hi*127/145) || iv[0] > *c5.Coverage || iv[1] < *c5.Coverage {
		t.Errorf("room 5 interval %v, want the Wilson interval %.3f–%.3f times %.3f", iv, lo, hi, 127.0/145)
	}
	if iv := c6.CoverageInterval; iv == nil || *iv != [2]float64{0, 0} {
		t.Errorf("room 6 interval %v", iv)
	}
	if s.CoverageInterval["5"] != c5.CoverageInterval || s.CoverageInterval["6"] != c6.CoverageInterval || s.OverallCoverageInterval == nil {
		t.Errorf("interval map %v, overall %v", s.CoverageInterval, s.OverallCoverageInterval)
	}
	if s.Coverage["5"] == nil || *s.Coverage["5"] != *c5.Coverage || s.Coverage["6"] != nil || len(s.Coverage) != 2 {
		t.Errorf("coverage map %v", s.Coverage)
	}
	if s.OverallCoverage == nil || !near(*s.OverallCoverage, 161.0/173*127/146) {
		t.Errorf("overall coverage %v", s.OverallCoverage)
	}
	if r := s.Rooms["5"]; r.Coverage != s.Coverage["5"] || r.Kinds["danmaku"] != 1 || len(r.Kinds) != 5 {
		t.Errorf("rooms[5] %+v", r)
	}
	if s.Reconnects != 2 || s.RoomsSeen != 2 || s.Runs != 2 || s.FirstMs != 12000 {
		t.Errorf("summary %+v", s)
	}

	// The JSON keys of the contract.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Coverage    map[string]*float64          `json:"coverage"`
		Interval    map[string]*[2]float64       `json:"coverage_interval"`
		Rooms       map[string]map[string]any    `json:"rooms"`
		Connections []map[string]json.RawMessage `json:"connections"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Coverage["6"]; !ok || m.Coverage["6"] != nil || m.Coverage["5"] == nil {
		t.Errorf("JSON coverage %s", b)
	}
	if iv := m.Interval["5"]; iv == nil || *iv != *c5.CoverageInterval {
		t.Errorf("JSON coverage_interval %s", b)
	}
	if _, ok := m.Rooms["5"]["coverage"]; !ok || m.Rooms["5"]["danmaku"] != 1.0 {
		t.Errorf("JSON rooms %v", m.Rooms)
	}
	for _, k := range []string{"room_id", "connections", "reconnects", "connected_s", "wanted_s", "connected_share", "coverage", "coverage_interval", "starved", "stalled", "bad_frames"} {
		if _, ok := m.Connections[0][k]; !ok {
			t.Errorf("JSON connections lack %q", k)
		}
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil || back.Rooms["5"].Kinds["danmaku"] != 1 || *back.Rooms["5"].Coverage != *c5.Coverage {
		t.Errorf("round trip: %v %+v", err, back.Rooms)
	}
}

// TestCoverageEstimate: an estimate is given from MinCoverageSamples
// judged items on, whatever share arrived; its interval at any number.
func TestCoverageEstimate(t *testing.T) {
	for _, c := range []struct {
		judged, arrived int64
		ok              bool
		lo, hi          float64 // the 95 % Wilson interval, to 0.001
	}{
		{0, 0, false, 0, 0},
		{1, 0, false, 0, 0.7935},
		{35, 35, false, 0.901, 1},     // within ±0.10, but not yet given: the rule does not look at the share
		{35, 0, false, 0, 0.099},      // the same
		{96, 38, false, 0.304, 0.496}, // 0.396: more than 0.10 below the top
		{97, 39, true, 0.310, 0.502},
		{97, 0, true, 0, 0.038},
		{97, 97, true, 0.962, 1},
		{100, 10, true, 0.055, 0.174},
		{100, 50, true, 0.404, 0.596},
	} {
		p, ok := CoverageEstimate(c.judged, c.arrived)
		if ok != c.ok || c.judged > 0 && !near(p, float64(c.arrived)/float64(c.judged)) {
			t.Errorf("CoverageEstimate(%d, %d) = %.3f, %v; want ok %v", c.judged, c.arrived, p, ok, c.ok)
		}
		lo, hi, ok := CoverageInterval(c.judged, c.arrived)
		if ok != (c.judged > 0) || math.Abs(lo-c.lo) > 0.0005 || math.Abs(hi-c.hi) > 0.0005 {
			t.Errorf("CoverageInterval(%d, %d) = %.4f–%.4f, %v; want %.3f–%.3f", c.judged, c.arrived, lo, hi, ok, c.lo, c.hi)
		}
	}
}

// TestMinCoverageSamples derives MinCoverageSamples: the smallest n from
// which (checked up to 2,000) the interval of every share k/n lies within
// ±CoverageMargin of it.
func TestMinCoverageSamples(t *testing.T) {
	within := func(n int64) bool {
		for k := int64(0); k <= n; k++ {
			lo, hi, _ := CoverageInterval(n, k)
			if p := float64(k) / float64(n); p-lo > CoverageMargin || hi-p > CoverageMargin {
				return false
			}
		}
		return true
	}
	last := int64(0) // the largest n whose intervals are not all within the margin
	for n := int64(1); n <= 2000; n++ {
		if !within(n) {
			last = n
		}
	}
	if last+1 != MinCoverageSamples {
		t.Errorf("every share's interval lies within ±%.2f from %d judged items on; MinCoverageSamples is %d",
			CoverageMargin, last+1, MinCoverageSamples)
	}
}

// TestCoverageEstimateDoesNotLean: over many rooms with the same true
// share, each looked at after a number of judged items that does not
// depend on what arrived (20 to 300), the estimates given centre on the
// true share. The same harness shows that a rule giving an estimate once
// its interval is narrow (±CoverageMargin) leans, towards 0 below 0.5
// and towards 1 above, when rooms are looked at after 20 to 60 judged
// items (as in a short anonymous run: a share of 0.1 needs 62 to be said
// to ±0.10, so those given are the rooms that saw fewer arrivals, whose
// interval is narrower; about −0.05 here).
func TestCoverageEstimateDoesNotLean(t *testing.T) {
	narrow := func(judged, arrived int64) (float64, bool) {
		lo, hi, _ := CoverageInterval(judged, arrived)
		p := float64(arrived) / float64(judged)
		return p, p-lo <= CoverageMargin && hi-p <= CoverageMargin
	}
	rng := rand.New(rand.NewPCG(18, 1))
	lean := func(rule func(judged, arrived int64) (float64, bool), p float64, most int64) float64 {
		var sum float64
		var n int
		for range 4000 {
			judged := 20 + rng.Int64N(most-20+1)
			var arrived int64
			for range judged {
				if rng.Float64() < p {
					arrived++
				}
			}
			if est, ok := rule(judged, arrived); ok {
				sum += est - p
				n++
			}
		}
		return sum / float64(n)
	}
	for _, p := range []float64{0.1, 0.5, 0.9} {
		if d := lean(CoverageEstimate, p, 300); math.Abs(d) > 0.005 {
			t.Errorf("true share %.1f: the estimates given lean by %+.4f", p, d)
		}
	}
	if d := lean(narrow, 0.1, 60); d > -0.02 {
		t.Errorf("the narrow-interval rule leans by %+.4f at 0.1; the harness should see it lean low", d)
	}
	if d := lean(narrow, 0.9, 60); d < 0.02 {
		t.Errorf("the narrow-interval rule leans by %+.4f at 0.9; the harness should see it lean high", d)
	}
}

// TestSummaryTotalsMatchWriter: on a fresh database, stats's rows per
// table are what the writer counted as inserted, for every table it
// writes, and their sum is the writer's rows inserted.
func TestSummaryTotalsMatchWriter(t *testing.T) {
	db := openInternal(t)
	if _, err := db.StartRun(context.Background(), RunInfo{Version: "t", Args: ""}); err != nil {
		t.Fatal(err)
	}
	b := func(k protocol.Kind, cmd string) protocol.Base {
		return protocol.Base{Kind: k, Cmd: cmd, RoomID: 3, TsMs: 5000}
	}
	d := &protocol.Danmaku{Base: b(protocol.KindDanmaku, "DANMU_MSG"), IDStr: "x"}
	g := &protocol.Gift{Base: b(protocol.KindGift, "SEND_GIFT"), TID: "t", Num: 1, BlindPrice: 0}
	g2 := *g
	g2.Cmd, g2.BlindPrice = "SEND_GIFT_V2", 5000
	sc := &protocol.SuperChat{Base: b(protocol.KindSuperChat, "SUPER_CHAT_MESSAGE"), ID: 1}
	other := &protocol.Other{Base: b(protocol.KindOther, "NEW_THING")}
	recs := []Record{
		Conn{Seq: 1, RoomID: 3, StartedMs: 1}, Conn{Seq: 1, RoomID: 3, StartedMs: 1, AuthedMs: 2, EndedMs: 3},
		Snapshot{Round: 1, RoomID: 3, Desired: true}, Snapshot{Round: 1, RoomID: 3, Rank: 2},
		RoomMeta{RoomID: 3, Title: "a", SeenMs: 1}, RoomMeta{RoomID: 3, AnchorName: "b", SeenMs: 2},
		Raw{RoomID: 3, Cmd: "X", Body: []byte("{}")}, Malformed{RoomID: 3, Reason: "bad"},
		Event{E: d}, Event{E: d}, Event{E: g}, Event{E: &g2}, Event{E: sc},
		Event{E: &protocol.SuperChatDelete{Base: b(protocol.KindSuperChatDelete, "SUPER_CHAT_MESSAGE_DELETE"), IDs: []int64{1}}},
		Event{E: guardBuyInternal()}, Event{E: &protocol.Interact{Base: b(protocol.KindInteract, "INTERACT_WORD"), MsgType: 6}},
		Event{E: &protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE"), Name: "watched"}},
		Event{E: &protocol.Room{Base: b(protocol.KindRoom, "LIVE")}}, Event{E: &protocol.Combo{Base: b(protocol.KindCombo, "COMBO_SEND")}},
		Event{E: other}, Event{E: other},
		Event{E: &protocol.Control{Base: protocol.Base{Kind: protocol.KindControl}}},
	}
	mx := writeInternal(t, db, 1, recs...)
	tot := mx.Totals()
	s, err := db.Summarize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, tab := range Tables() {
		if !tab.Stats {
			continue
		}
		if s.Rows[tab.Name] != mx.RowsWritten(tab.Name) {
			t.Errorf("%s: stats %d rows, writer inserted %d", tab.Name, s.Rows[tab.Name], mx.RowsWritten(tab.Name))
		}
		sum += s.Rows[tab.Name]
	}
	if sum != tot.Rows || sum != 15 || tot.Dups != 2 {
		t.Errorf("Σ rows %d, writer rows %d (want 15), dups %d (want 2)", sum, tot.Rows, tot.Dups)
	}
	var deleted, blind, count, rank int64
	var title, anchor string
	db.SQL.QueryRow("SELECT deleted_ms FROM super_chats").Scan(&deleted)
	db.SQL.QueryRow("SELECT blind_price FROM gifts").Scan(&blind)
	db.SQL.QueryRow("SELECT count FROM unknown_commands").Scan(&count)
	db.SQL.QueryRow("SELECT rank FROM room_snapshots").Scan(&rank)
	db.SQL.QueryRow("SELECT title, anchor_name FROM rooms").Scan(&title, &anchor)
	if blind != 5000 || count != 2 || rank != 2 || title != "a" || anchor != "b" {
		t.Errorf("updates: blind_price %d, unknown count %d, rank %d, room %q %q", blind, count, rank, title, anchor)
	}
	var authed, ended int64
	db.SQL.QueryRow("SELECT authed_ms, ended_ms FROM connections").Scan(&authed, &ended)
	if authed != 2 || ended != 3 || tot.Updated == 0 {
		t.Errorf("connection update: authed %d ended %d, updated %d", authed, ended, tot.Updated)
	}
}

func guardBuyInternal() *protocol.Guard {
	return &protocol.Guard{Base: protocol.Base{Kind: protocol.KindGuard, Cmd: "GUARD_BUY", RoomID: 3, TsMs: 5000},
		UID: 1, GuardLevel: 3, Num: 1, Price: 198000, StartTime: 5}
}

// TestConnIdentityColumns: the connection's identity and coverage facts
// are written at the first record and updated by the last.
func TestConnIdentityColumns(t *testing.T) {
	db := openInternal(t)
	writeInternal(t, db, 1, Conn{Seq: 1, RoomID: 3, StartedMs: 1, UID: 77},
		Conn{Seq: 1, RoomID: 3, StartedMs: 1, UID: 77, Sampled: true, HistSeen: 20, HistArrived: 19, Acks: 100, EndedMs: 9})
	writeInternal(t, db, 1, Conn{Seq: 2, RoomID: 3, StartedMs: 1, Anonymous: true, Sampled: true})
	var uid, anon, sampled, seen, arrived, acks int64
	db.SQL.QueryRow("SELECT uid, anonymous, sampled, hist_seen, hist_arrived, acks FROM connections WHERE seq = 1").Scan(&uid, &anon, &sampled, &seen, &arrived, &acks)
	if uid != 77 || anon != 0 || sampled != 1 || seen != 20 || arrived != 19 || acks != 100 {
		t.Errorf("seq 1: uid %d anonymous %d sampled %d hist %d/%d acks %d", uid, anon, sampled, arrived, seen, acks)
	}
	db.SQL.QueryRow("SELECT uid, anonymous FROM connections WHERE seq = 2").Scan(&uid, &anon)
	if uid != 0 || anon != 1 {
		t.Errorf("seq 2: uid %d anonymous %d", uid, anon)
	}
}

// TestWriterKinds: with Kinds, only the listed kinds are stored; every
// other event is counted per run, room and kind in unstored_events (the
// counts add up over flushes and stats shows them); bookkeeping and
// commands without a typed table are stored whatever Kinds says.
func TestWriterKinds(t *testing.T) {
	kinds, err := ParseKinds([]string{"gifts", " danmaku", "gift"})
	if err != nil || len(kinds) != 2 || kinds[0] != "danmaku" || kinds[1] != "gift" {
		t.Fatalf("ParseKinds: %v, %v", kinds, err)
	}
	if _, err := ParseKinds([]string{"danmaku", "chat"}); err == nil || !strings.Contains(err.Error(), `"chat"`) {
		t.Errorf("ParseKinds of an unknown kind: %v", err)
	}
	db := openInternal(t)
	b := func(k protocol.Kind, cmd string, room int64) protocol.Base {
		return protocol.Base{Kind: k, Cmd: cmd, RoomID: room, TsMs: 5000}
	}
	batch := func(n int) []Record {
		var recs []Record
		for i := range n {
			recs = append(recs,
				Event{E: &protocol.Danmaku{Base: b(protocol.KindDanmaku, "DANMU_MSG", 3), IDStr: fmt.Sprint(n, "-", i)}, RecvMs: 6000},
				Event{E: &protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE", 3), Name: "watched"}, RecvMs: 6000},
				Event{E: &protocol.Counter{Base: b(protocol.KindCounter, "WATCHED_CHANGE", 4), Name: "watched"}, RecvMs: 6000},
				Event{E: &protocol.Interact{Base: b(protocol.KindInteract, "LIKE_INFO_V3_CLICK", 4), MsgType: 6}, RecvMs: 6000})
		}
		return append(recs, Conn{Seq: 1, RoomID: 3, StartedMs: 1},
			Event{E: &protocol.SuperChatDelete{Base: b(protocol.KindSuperChatDelete, "SUPER_CHAT_MESSAGE_DELETE", 3), IDs: []int64{1}}, RecvMs: 6000},
			Event{E: &protocol.Other{Base: b(protocol.KindOther, "NEW_THING", 3)}, RecvMs: 6000})
	}
	for _, n := range []int{3, 2} { // two runs of the writer: the counts add up
		w := NewWriter(db, WriterOptions{RunID: 1, FlushInterval: time.Hour, Kinds: []string{"danmaku"}})
		ch := make(chan Record, 32)
		for _, r := range batch(n) {
			ch <- r
		}
		close(ch)
		if err := w.Run(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
	}
	s, err := db.Summarize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"counter": 10, "interact": 5, "super_chat": 2}
	if !reflect.DeepEqual(s.NotStored, want) {
		t.Errorf("not stored %v, want %v", s.NotStored, want)
	}
	if s.Rows["danmaku"] != 5 || s.Rows["counters"] != 0 || s.Rows["interactions"] != 0 || s.Rows["room_events"] != 0 ||
		s.Rows["connections"] != 1 || s.Rows["unknown_commands"] != 1 {
		t.Errorf("rows %v", s.Rows)
	}
	var n int64
	db.SQL.QueryRow("SELECT count FROM unstored_events WHERE run_id = 1 AND room_id = 4 AND kind = 'counter'").Scan(&n)
	if n != 5 {
		t.Errorf("room 4's counters not stored: %d, want 5", n)
	}
	plain := openInternal(t)
	writeInternal(t, plain, 1, batch(1)...)
	if s, _ := plain.Summarize(context.Background()); s.NotStored != nil {
		t.Errorf("without Kinds something was not stored: %v", s.NotStored)
	}
}
