package collector

import (
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRoundRemovesLeavingRoomsSeries: a discovery round without a room
// deletes that room's per-room series from the shared metrics handle.
func TestRoundRemovesLeavingRoomsSeries(t *testing.T) {
	mx := metrics.New("test")
	out := make(chan storage.Record, 64)
	c := New(Config{Out: out, Observer: mx})
	round := func(n int, rooms ...int64) {
		r := roomsource.Round{N: n, At: time.Now()}
		for _, id := range rooms {
			r.Rooms = append(r.Rooms, roomsource.Target{RoomID: id})
		}
		c.recordRound(r)
	}
	count := func() int {
		n, err := testutil.GatherAndCount(mx.Registry(), "danmakud_room_connected", "danmakud_room_coverage_ratio")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	round(1, 10, 20)
	for _, id := range []int64{10, 20} {
		mx.RoomConnected(id, true)
		mx.SetRoomCoverage(id, 0.5)
	}
	if n := count(); n != 4 {
		t.Fatalf("%d per-room series with two rooms, want 4", n)
	}
	round(2, 20)
	if n := count(); n != 2 {
		t.Errorf("%d per-room series after room 10 left, want 2", n)
	}
	if d := mx.Totals().RoomsDesired; d != 1 {
		t.Errorf("rooms desired %d, want 1", d)
	}
}
