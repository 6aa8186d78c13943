package daemon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/storage"
)

func TestCoverageSummary(t *testing.T) {
	count := func(judged, arrived int64, sampled bool) *collector.CoverageCount {
		c := &collector.CoverageCount{}
		c.Judged.Store(judged)
		c.Arrived.Store(arrived)
		c.Sampled.Store(sampled)
		return c
	}
	few := int64(storage.MinCoverageSamples) - 1
	// These counts were never connected (their connected share is 0), so
	// every room with an estimate (storage.MinCoverageSamples judged items
	// or more) has the estimate 0, and the interval [0, 0]: below any
	// threshold.
	res := &daemon.Result{Coverage: map[int64]*collector.CoverageCount{
		30: count(1000, 1000, false),
		10: count(1000, 500, true),
		20: count(few, 0, true), // too few to say
	}}
	s := res.CoverageSummary(time.Now(), 0.9)
	if s.Rooms != 3 || s.Judged != 2000+few || s.Arrived != 1500 || s.Estimated != 2 || s.Sampled != 2 || s.ConnectedShare != 0 {
		t.Errorf("summary %+v", s)
	}
	if fmt.Sprint(s.Low) != "[{10 0 0 0} {30 0 0 0}]" {
		t.Errorf("low rooms %v, want rooms 10 and 30 (equal estimates: by room id)", s.Low)
	}
	if s := res.CoverageSummary(time.Now(), 0); len(s.Low) != 0 {
		t.Errorf("nothing is below 0: %v", s.Low)
	}
	if s := (&daemon.Result{}).CoverageSummary(time.Now(), 0.9); s.Rooms != 0 || s.Judged != 0 || s.Low != nil {
		t.Errorf("no rooms: %+v", s)
	}
}
