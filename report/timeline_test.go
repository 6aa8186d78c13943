package report

import (
	"testing"
	"time"

	"github.com/danmakud/danmakud/storage"
)

// TestTimeline: buckets cover the data; the connected average counts only
// the part of a bucket a run covered; a stretch with no connection is a
// gap; hours are UTC+8's.
func TestTimeline(t *testing.T) {
	m0 := int64(29_000_000) // a unix minute
	ms := func(min, sec int64) int64 { return (m0+min)*60000 + sec*1000 }
	a := &storage.Activity{PerMinute: map[string]map[int64]int64{"danmaku": {m0: 30, m0 + 2: 60, m0 + 9: 9}},
		Runs: []storage.RunSpan{{FromMs: ms(0, 30), ToMs: ms(6, 0)}, {FromMs: ms(5, 0), ToMs: ms(10, 0)}},
		Spans: []storage.ConnSpan{{RoomID: 1, FromMs: ms(0, 30), ToMs: ms(3, 0)}, {RoomID: 2, FromMs: ms(1, 0), ToMs: ms(3, 0)},
			{RoomID: 1, FromMs: ms(7, 0), ToMs: ms(10, 0)}}}
	tr, ok := rangeOf(a)
	if !ok || tr.step != 1 || tr.first != m0 || tr.buckets() != 11 {
		t.Fatalf("range %+v", tr)
	}
	cov := tr.covered(a.Runs)
	if cov[0] != 30000 || cov[5] != 60000 || cov[10] != 60000 { // bucket 10: no run, counted whole
		t.Errorf("covered %v", cov)
	}
	avg, gaps := tr.connected(a.Spans, cov, time.Minute)
	if avg[0] != 1 || avg[1] != 2 || avg[3] != 0 || avg[8] != 1 {
		t.Errorf("connected %v", avg)
	}
	if len(gaps) != 1 || gaps[0].from.UnixMilli() != ms(3, 0) || gaps[0].to.UnixMilli() != ms(7, 0) {
		t.Errorf("gaps %v", gaps)
	}
	if b := tr.perBucket(a.PerMinute["danmaku"]); b[0] != 30 || b[2] != 60 || b[9] != 9 {
		t.Errorf("per bucket %v", b)
	}
	h := bilibiliHours(map[int64]int64{0: 5, 16*60 + 59: 7}) // 00:00 and 16:59 UTC
	if h[8] != 5 || h[0] != 7 {
		t.Errorf("hours %v", h)
	}
}
