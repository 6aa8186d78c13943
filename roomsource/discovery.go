package roomsource

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// Target is one room the collector should watch.
type Target struct {
	RoomID int64
	Fixed  bool // given with --room: never leaves
	Rank   int  // 1-based rank in this round's list; 0 when not listed
	Room   Room // the list entry (zero for unlisted fixed rooms)
	Absent int  // rounds in a row this room was not in the top N
}

// Round is one discovery result: the full desired set (never partial) and
// what the list said, for room snapshots. A shard's rounds hold only its
// own rooms (Discovery.Shard); ranks are still the list's.
type Round struct {
	N      int // 1-based round number
	At     time.Time
	Rooms  []Target // desired set, sorted by room id
	Listed []Room   // the listed rooms (of this shard), in rank order
}

// Lister fetches the top n rooms of an area; *Client implements it.
type Lister interface {
	TopRooms(ctx context.Context, n int, area int64) ([]Room, error)
}

// Discovery produces the desired room set every Refresh. It follows the
// rule of Prometheus' service discovery: a round with any failed page
// sends nothing, and the last good set stays in force.
type Discovery struct {
	Lister Lister
	Top    int     // rooms to take from the list; 0 = only Fixed
	Area   int64   // 0 = all areas
	Fixed  []int64 // real room ids that are always watched
	// Shard keeps only the rooms this shard owns, of the list and of
	// Fixed (the zero Shard: all). The list is still read down to Top:
	// which listed rooms are in the top N only the whole list says.
	Shard   Shard
	Refresh time.Duration
	// Hysteresis is how many rounds in a row a room must be missing from
	// the top N before it leaves; default 3.
	Hysteresis int
	Logger     *slog.Logger

	absent  map[int64]int
	current map[int64]Target
	round   int
	fails   int
	// hadRooms is the longest list seen.
	hadRooms int
}

// Run sends a Round on out after every successful refresh until ctx ends.
// The first refresh happens at once. Run does not close out; the caller
// owns it. Every send also watches ctx.
func (d *Discovery) Run(ctx context.Context, out chan<- Round) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	refresh := d.Refresh
	if refresh <= 0 {
		refresh = 5 * time.Minute
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := d.Refresh1(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.fails++
			if d.fails == 1 || d.fails%10 == 0 {
				log.Warn("discovery failed; keeping the last good room set", "err", err, "failures", d.fails)
			}
		default:
			if d.fails > 0 {
				log.Info("discovery recovered", "after_failures", d.fails)
			}
			d.fails = 0
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
		}
		t.Reset(refresh)
	}
}

// Refresh1 runs one discovery round: it fetches the list and applies
// hysteresis. On error the state is unchanged. An empty list once a list
// had rooms is an error (a suspicious round), however often it comes.
func (d *Discovery) Refresh1(ctx context.Context) (Round, error) {
	h := d.Hysteresis
	if h <= 0 {
		h = 3
	}
	var listed []Room
	if d.Top > 0 {
		var err error
		listed, err = d.Lister.TopRooms(ctx, d.Top, d.Area)
		if err != nil {
			return Round{}, err
		}
		// A suspicious round: an empty list after one with rooms tears
		// nothing down (every room of a list ending at once is far
		// likelier an API fault); the rooms leave by hysteresis once a
		// list with rooms comes back without them.
		if len(listed) == 0 && d.hadRooms > 0 {
			return Round{}, fmt.Errorf("roomsource: the room list came back empty (it had %d rooms); keeping the last good set", d.hadRooms)
		}
		d.hadRooms = max(d.hadRooms, len(listed))
	}
	if d.absent == nil {
		d.absent, d.current = map[int64]int{}, map[int64]Target{}
	}
	next := map[int64]Target{}
	var mine []Room // the listed rooms this shard owns
	for i, r := range listed {
		if !d.Shard.Owns(r.RoomID) {
			continue
		}
		mine = append(mine, r)
		next[r.RoomID] = Target{RoomID: r.RoomID, Rank: i + 1, Room: r}
		delete(d.absent, r.RoomID)
	}
	for _, id := range d.Fixed {
		if !d.Shard.Owns(id) {
			continue
		}
		t := next[id]
		t.RoomID, t.Fixed = id, true
		next[id] = t
	}
	// Rooms that dropped out stay until they have been absent h rounds.
	for id, t := range d.current {
		if _, ok := next[id]; ok {
			continue
		}
		d.absent[id]++
		if d.absent[id] < h {
			t.Rank, t.Absent = 0, d.absent[id]
			next[id] = t
		} else {
			delete(d.absent, id)
		}
	}
	d.current = next
	d.round++
	r := Round{N: d.round, At: time.Now(), Listed: mine}
	for _, t := range next {
		r.Rooms = append(r.Rooms, t)
	}
	sort.Slice(r.Rooms, func(i, j int) bool { return r.Rooms[i].RoomID < r.Rooms[j].RoomID })
	return r, nil
}
