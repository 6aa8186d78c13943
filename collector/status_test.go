package collector

import (
	"testing"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

func danmakuRecs(n int, kind protocol.Kind) []storage.Record {
	var recs []storage.Record
	for range n {
		recs = append(recs, storage.Event{E: &protocol.Danmaku{Base: protocol.Base{Kind: kind}}})
	}
	return append(recs, storage.Raw{}) // not an event: not counted
}

func statusOf(t *testing.T, s Status, room int64) RoomStatus {
	t.Helper()
	for _, r := range s.Rooms {
		if r.RoomID == room {
			return r
		}
	}
	t.Fatalf("room %d not in the status: %+v", room, s.Rooms)
	return RoomStatus{}
}

// TestStatusBoard: a round's rooms with their titles, each state, the
// per-minute counts and rate, and a room that leaves: its events stay in
// the totals (EventsElsewhere), as danmakud_events_total keeps them.
func TestStatusBoard(t *testing.T) {
	c := &Collector{}
	b := &c.board
	round := roomsource.Round{N: 1, Rooms: []roomsource.Target{
		{RoomID: 3, Rank: 1, Room: roomsource.Room{RoomID: 3, Title: "<script>x</script>", Uname: "a", AreaName: "唱见", ParentName: "娱乐"}},
		{RoomID: 1, Fixed: true},
		{RoomID: 2, Rank: 2, Room: roomsource.Room{RoomID: 2, Title: "two"}},
		{RoomID: 4, Rank: 3, Room: roomsource.Room{RoomID: 4, Title: "over budget"}},
	}}
	b.round(round, round.Rooms[:3])
	now := time.Now()
	cur := now.UnixMilli() / 60000 * 60000
	st := &connState{base: storage.Conn{RoomID: 3, Anonymous: true, AuthedMs: now.UnixMilli()}}
	down := b.connected(3, st)
	c.coverageOf(3).Sampled.Store(true)
	b.frame(3, cur-2*60000, danmakuRecs(4, protocol.KindDanmaku))
	b.frame(3, cur, danmakuRecs(2, protocol.KindGift))
	b.frame(3, cur-90*60000, danmakuRecs(5, protocol.KindDanmaku)) // before the ring: totals only
	b.frame(99, cur, danmakuRecs(7, protocol.KindDanmaku))         // not on the board
	b.ended(2, "server_closed")
	doneWaiting := b.waiting(1)

	s := c.Status()
	if len(s.Rooms) != 4 || s.Rooms[0].RoomID != 1 || s.Rooms[3].RoomID != 4 {
		t.Fatalf("rooms %+v, want 1, 2, 3, 4 by id (4 is wanted but not watched: listed too)", s.Rooms)
	}
	r3 := statusOf(t, s, 3)
	if r3.Title != "<script>x</script>" || r3.Area != "娱乐 / 唱见" || r3.Anchor != "a" || r3.Rank != 1 {
		t.Errorf("room 3 meta: %+v", r3)
	}
	if r3.State != StateSampled || !r3.Anonymous || r3.ConnectedSinceMs != st.base.AuthedMs {
		t.Errorf("room 3: state %q anonymous %v since %d", r3.State, r3.Anonymous, r3.ConnectedSinceMs)
	}
	if r3.Events != 11 || r3.Danmaku != 9 || r3.LastEventMs != cur {
		t.Errorf("room 3: %d events, %d danmaku, last %d; want 11, 9, %d", r3.Events, r3.Danmaku, r3.LastEventMs, cur)
	}
	if len(r3.PerMinute) != StatusMinutes || r3.PerMinute[StatusMinutes-1] != 2 || r3.PerMinute[StatusMinutes-3] != 4 {
		t.Errorf("room 3 per minute: %v", r3.PerMinute)
	}
	if r3.EventsPerMin <= 0 {
		t.Errorf("room 3: events per minute %v", r3.EventsPerMin)
	}
	if r := statusOf(t, s, 2); r.State != StateConnecting || r.LastError != "server_closed" || r.LastErrorMs == 0 {
		t.Errorf("room 2: %+v", r)
	}
	if r := statusOf(t, s, 1); r.State != StateWaiting {
		t.Errorf("room 1: state %q, want waiting", r.State)
	}
	if s.EventsElsewhere != 7 || s.DanmakuElsewhere != 7 {
		t.Errorf("elsewhere %d/%d, want 7/7", s.EventsElsewhere, s.DanmakuElsewhere)
	}
	doneWaiting()
	down()
	b.connected(1, &connState{})
	s = c.Status()
	if r := statusOf(t, s, 3); r.State != StateReconnecting {
		t.Errorf("room 3 after its connection ended: %q", r.State)
	}
	if r := statusOf(t, s, 1); r.State != StateConnected {
		t.Errorf("room 1 connected: %q", r.State)
	}
	if r := statusOf(t, s, 4); r.State != StateUnwatched {
		t.Errorf("room 4: %q, want unwatched", r.State)
	}

	// Room 3 leaves: off the page, its events kept in the totals.
	b.round(roomsource.Round{N: 2, Rooms: round.Rooms[1:3]}, round.Rooms[1:3])
	s = c.Status()
	if len(s.Rooms) != 2 || statusOf(t, s, 2).Area != "" || s.EventsElsewhere != 18 || s.DanmakuElsewhere != 16 {
		t.Errorf("after room 3 left: %d rooms, elsewhere %d/%d; want 2, 18/16", len(s.Rooms), s.EventsElsewhere, s.DanmakuElsewhere)
	}
	if statusOf(t, s, 2).Title != "two" {
		t.Errorf("room 2 lost its title")
	}
}

// TestStatusRingRollover: minutes more than an hour apart clear the ring;
// a frame an hour old counts in the total only.
func TestStatusRingRollover(t *testing.T) {
	var rs roomStatus
	base := int64(1_000_000) * 60000
	rs.add(base, 5, 0)
	rs.add(base+60000, 3, 0)
	rs.add(base+61*60000, 1, 0) // 61 minutes later: the ring holds only this
	if rs.events != 9 {
		t.Fatalf("events %d", rs.events)
	}
	var sum int64
	for _, v := range rs.perMin {
		sum += v
	}
	if sum != 1 {
		t.Errorf("ring sum %d after an hour's jump, want 1", sum)
	}
	rs.add(base, 4, 0) // older than the ring
	if rs.events != 13 || rs.perMin[(base/60000)%StatusMinutes] != 0 {
		t.Errorf("a frame older than the ring: events %d, slot %d", rs.events, rs.perMin[(base/60000)%StatusMinutes])
	}
}

// BenchmarkStatus10k takes the snapshot the status page reads, for
// 10,000 rooms with an hour of per-minute counts each.
func BenchmarkStatus10k(b *testing.B) {
	c := &Collector{}
	var round roomsource.Round
	for i := range 10000 {
		round.Rooms = append(round.Rooms, roomsource.Target{RoomID: int64(i + 1), Rank: i + 1,
			Room: roomsource.Room{RoomID: int64(i + 1), Title: "title", AreaName: "a", ParentName: "p"}})
	}
	c.board.round(round, round.Rooms)
	now := time.Now().UnixMilli()
	recs := danmakuRecs(3, protocol.KindDanmaku)
	for i := range 10000 {
		c.coverageOf(int64(i + 1)).Judged.Store(40)
		for m := range 60 {
			c.board.frame(int64(i+1), now-int64(m)*60000, recs)
		}
	}
	for b.Loop() {
		if s := c.Status(); len(s.Rooms) != 10000 {
			b.Fatal(len(s.Rooms))
		}
	}
}
