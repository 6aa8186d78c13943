package collector

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

func TestAccountPoolSpreadsAndBounds(t *testing.T) {
	p := newAccountPool(2, 3)
	var got []int
	for i := 0; i < 7; i++ {
		got = append(got, p.acquire())
	}
	// Least used first: 0,1,0,1,0,1, then nothing left.
	if fmt.Sprint(got) != "[0 1 0 1 0 1 -1]" {
		t.Fatalf("acquire order %v", got)
	}
	if p.hasFree() {
		t.Error("hasFree with every budget used")
	}
	p.release(1)
	if !p.hasFree() || p.acquire() != 1 {
		t.Error("a released slot was not handed out again")
	}
	p.release(0)
	p.setLapsed(0, true)
	if p.hasFree() || p.acquire() != -1 {
		t.Error("a lapsed account took a room")
	}
	p.release(-1) // ignored
	if newAccountPool(0, 5).acquire() != -1 {
		t.Error("no accounts must mean anonymous")
	}
}

func TestLowPolicy(t *testing.T) {
	var p lowPolicy
	now := time.Unix(1_700_000_000, 0)
	if r, s := p.onLow(now); !r || s {
		t.Fatalf("first low: recycle %v sampled %v; want a replacement", r, s)
	}
	if r, s := p.onLow(now.Add(time.Minute)); r || !s {
		t.Fatalf("low again: recycle %v sampled %v; want marked sampled and kept", r, s)
	}
	if r, _ := p.onLow(now.Add(5 * time.Minute)); r {
		t.Fatal("retried before retryBase")
	}
	// Retries after retryBase, doubling, at most maxRetriesPerHour an hour.
	at := now.Add(time.Minute)
	var retries []time.Duration
	for step := 0; step < 24*60; step++ {
		at = at.Add(time.Minute)
		if r, _ := p.onLow(at); r {
			retries = append(retries, at.Sub(now))
		}
	}
	perHour := map[int]int{}
	for _, d := range retries {
		perHour[int(d/time.Hour)]++
	}
	for h, n := range perHour {
		if n > maxRetriesPerHour {
			t.Errorf("hour %d: %d retries", h, n)
		}
	}
	if len(retries) == 0 || retries[0] < retryBase {
		t.Errorf("retries %v", retries)
	}
	for i := 1; i < len(retries); i++ {
		if gap := retries[i] - retries[i-1]; gap < 20*time.Minute {
			t.Errorf("retry gap %v after %d tries; want doubling from %v", gap, i, retryBase)
		}
	}
	if !p.onGood() {
		t.Error("onGood did not report the sampled mark")
	}
	if r, s := p.onLow(at); !r || s {
		t.Error("after recovery the next low should again get one immediate replacement")
	}
}

func TestNextInterval(t *testing.T) {
	lo, hi := 10*time.Second, time.Minute
	if d := nextInterval(40*time.Second, lo, hi, 10, 10); d != 20*time.Second {
		t.Errorf("overflowing history: %v, want halved", d)
	}
	if d := nextInterval(15*time.Second, lo, hi, 10, 10); d != lo {
		t.Errorf("floor: %v", d)
	}
	if d := nextInterval(40*time.Second, lo, hi, 1, 10); d != hi {
		t.Errorf("quiet room: %v, want doubled to the cap", d)
	}
	if d := nextInterval(20*time.Second, lo, hi, 5, 10); d != 20*time.Second {
		t.Errorf("steady: %v", d)
	}
}

func TestSeenSetBounded(t *testing.T) {
	s := newSeenSet()
	k := func(i int) uint64 { return checkKey(int64(i), "ct") }
	for i := 0; i < seenMax+100; i++ {
		s.add(k(i), int64(1000+i))
	}
	if s.has(k(0)) || !s.has(k(seenMax+99)) || !s.has(k(100)) {
		t.Error("eviction is not oldest-first")
	}
	if h := s.horizonMs(); h != 1000+99 {
		t.Errorf("horizon %d, want the arrival time of the last evicted key (1099)", h)
	}
	s.prune(1000 + 200)
	if s.has(k(150)) || !s.has(k(300)) {
		t.Error("prune by age")
	}
	if s.n > seenMax || len(s.q) > seenMax {
		t.Errorf("%d keys kept in a ring of %d", s.n, len(s.q))
	}
	// A burst grows the ring; once pruned to a few keys it is given back,
	// and what is kept stays in arrival order.
	s.prune(1000 + seenMax + 90)
	if s.n != 10 || len(s.q) > 32 || !s.has(k(seenMax+90)) || s.has(k(seenMax+89)) {
		t.Errorf("after the burst: %d keys in a ring of %d", s.n, len(s.q))
	}
	s.add(k(1), 1_000_000)
	if s.prune(999_999); s.n != 1 || !s.has(k(1)) {
		t.Errorf("after a prune to one key: %d keys", s.n)
	}
	if checkKey(1, "ab") == checkKey(1, "ba") || checkKey(1, "x") == checkKey(2, "x") {
		t.Error("checkKey confuses different check values")
	}
}

func hist(items ...[2]any) []roomsource.HistoryItem {
	var out []roomsource.HistoryItem
	for _, it := range items {
		var h roomsource.HistoryItem
		h.CheckInfo.Ts = it[0].(int64)
		h.CheckInfo.Ct = it[1].(string)
		out = append(out, h)
	}
	return out
}

func TestJudgeCountsOnceAndSkipsTooRecent(t *testing.T) {
	start := time.Unix(1000, 0)
	totals := &CoverageCount{}
	rc := newRoomCoverage(start, totals)
	rc.seen.add(checkKey(1010, "a"), 1010_500)
	rc.seen.add(checkKey(1020, "c"), 1020_500)
	fetched := time.Unix(1030, 0)
	h := hist([2]any{int64(990), "old"}, [2]any{int64(1010), "a"}, [2]any{int64(1015), "b"},
		[2]any{int64(1020), "c"}, [2]any{int64(1029), "recent"})
	considered, arrived, fresh := rc.judge(h, fetched)
	if considered != 3 || arrived != 2 || fresh != 5 {
		t.Fatalf("considered %d arrived %d fresh %d; want 3, 2, 5 (before start and too recent are not judged)", considered, arrived, fresh)
	}
	// A later check judges the item that was too recent, even when it
	// has left the history (a busy room), and nothing twice.
	rc.seen.add(checkKey(1029, "recent"), 1029_500)
	considered, arrived, fresh = rc.judge(h[:4], fetched.Add(10*time.Second))
	if considered != 1 || arrived != 1 || fresh != 0 {
		t.Fatalf("second look: considered %d arrived %d fresh %d; want 1, 1, 0", considered, arrived, fresh)
	}
	if totals.Judged.Load() != 4 || totals.Arrived.Load() != 3 {
		t.Errorf("totals %d/%d", totals.Arrived.Load(), totals.Judged.Load())
	}
	if _, ok := totals.Estimate(time.Now()); ok {
		t.Error("a ratio from 4 items")
	}
}

type fakeAcker struct{ acks []string }

func (f *fakeAcker) Ack(raw json.RawMessage, cmd string, t int64) bool {
	f.acks = append(f.acks, fmt.Sprintf("%s %s %d", raw, cmd, t))
	return true
}

// zlibBundle wraps commands as the server does: one ver-0 op-5 packet
// each, all in one message.
func wsMessage(bodies ...string) []byte {
	var msg []byte
	for _, b := range bodies {
		msg = protocol.AppendPacket(msg, 0, protocol.OpMessage, 0, []byte(b))
	}
	return msg
}

func TestDecoderAcksAndDropsResent(t *testing.T) {
	st := &connState{}
	ack := &fakeAcker{}
	var ids msgIDs
	mx := metrics.New("test")
	c := New(Config{RunID: 1, Observer: mx})
	c.dec.register(1, &connCtx{st: st, seen: newSeenSet(), ids: &ids, ack: ack})
	sc := `{"cmd":"SUPER_CHAT_MESSAGE","msg_id":"123:1000:1000","p_is_ack":true,"p_msg_type":1,"send_time":1700000000000,` +
		`"roomid":5,"data":{"id":77,"uid":9,"price":30,"message":"hi","time":60,"start_time":1700000000,"end_time":1700000060,"user_info":{"uname":"u"}}}`
	plain := `{"cmd":"WATCHED_CHANGE","data":{"num":5,"text_small":"5","text_large":"5人看过"}}`
	var out []storage.Record
	for _, msg := range [][]byte{wsMessage(sc, plain), wsMessage(sc)} { // the server re-sends the super chat
		out = append(out, c.dec.frame(&journal.Record{Kind: journal.KindFrame, Run: 1, Conn: 1, Room: 5, Data: msg})...)
	}
	if len(ack.acks) != 2 || ack.acks[0] != `"123:1000:1000" SUPER_CHAT_MESSAGE 1` {
		t.Errorf("acks %q; want one per received copy with the msg_id as received", ack.acks)
	}
	var scs int
	for _, rec := range out {
		if e, ok := rec.(storage.Event); ok && e.E.Common().Kind == protocol.KindSuperChat {
			scs++
		}
	}
	if n := mx.Totals().Resent; scs != 1 || n != 1 {
		t.Errorf("super chats stored %d, resent reported %d; want the re-sent copy dropped", scs, n)
	}
	if st.acks.Load() != 2 || st.decoded.Load() != 2 || st.events.Load() != 2 {
		t.Errorf("conn counts acks %d decoded %d events %d", st.acks.Load(), st.decoded.Load(), st.events.Load())
	}
	// A frame of another run (replayed after a crash) is decoded without
	// its connection: no ack, no connection counts.
	out = c.dec.frame(&journal.Record{Kind: journal.KindFrame, Run: 0, Conn: 1, Room: 5, Data: wsMessage(plain)})
	if len(out) != 1 || len(ack.acks) != 2 || st.decoded.Load() != 2 {
		t.Errorf("a replayed frame: %d records, %d acks, %d decoded", len(out), len(ack.acks), st.decoded.Load())
	}
}

// TestCoverageCountInterval: the estimate and its interval are the
// history share's times the connected share; the interval is given before
// the estimate, which waits for storage.MinCoverageSamples judged items
// whatever arrived.
func TestCoverageCountInterval(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0.Add(100 * time.Second)
	c := &CoverageCount{}
	if _, _, ok := c.Interval(now); ok {
		t.Error("an interval with nothing judged")
	}
	c.wantedFrom(t0)
	c.connectedFrom(t0.Add(25 * time.Second)) // connected 75 % of the wanted time
	c.Judged.Store(storage.MinCoverageSamples - 1)
	if _, ok := c.Estimate(now); ok {
		t.Errorf("an estimate from %d items", c.Judged.Load())
	}
	if lo, hi, ok := c.Interval(now); !ok || lo != 0 || hi <= 0 || hi > 0.75 {
		t.Errorf("interval with nothing arrived %.3f–%.3f, %v; want from 0, at most the connected share", lo, hi, ok)
	}
	c.Judged.Store(200)
	c.Arrived.Store(20)
	est, ok := c.Estimate(now)
	lo, hi, iok := c.Interval(now)
	wlo, whi, _ := storage.CoverageInterval(200, 20)
	if !ok || !iok || math.Abs(est-0.075) > 1e-9 || math.Abs(lo-0.75*wlo) > 1e-9 || math.Abs(hi-0.75*whi) > 1e-9 || lo >= est || hi <= est {
		t.Errorf("estimate %.4f (%v), interval %.4f–%.4f (%v); want 0.075 within 0.75 × %.4f–%.4f", est, ok, lo, hi, iok, wlo, whi)
	}
}
