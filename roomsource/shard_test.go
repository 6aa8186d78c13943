package roomsource_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/danmakud/danmakud/roomsource"
)

// testRooms are room ids shaped like real ones: a few short-lived small
// ids and many large ones.
func testRooms(n int) []int64 {
	out := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			out = append(out, int64(1000+i))
		} else {
			out = append(out, 21452505+int64(i)*7919)
		}
	}
	return out
}

// TestShardOfSpreadsEvenly: every shard of n gets about 1/n of the rooms.
func TestShardOfSpreadsEvenly(t *testing.T) {
	rooms := testRooms(20000)
	for n := 1; n <= 8; n++ {
		counts := make([]int, n)
		for _, r := range rooms {
			k := roomsource.ShardOf(r, n)
			if k < 0 || k >= n {
				t.Fatalf("ShardOf(%d, %d) = %d", r, n, k)
			}
			counts[k]++
		}
		mean := float64(len(rooms)) / float64(n)
		for k, c := range counts {
			if math.Abs(float64(c)-mean) > 0.05*mean {
				t.Errorf("n=%d: shard %d has %d rooms, the mean is %.0f", n, k, c, mean)
			}
		}
	}
}

// TestShardOfMovesLittle: going from n shards to n+1 moves only rooms to
// the new shard, about 1/(n+1) of them; so going back moves only that
// shard's rooms.
func TestShardOfMovesLittle(t *testing.T) {
	rooms := testRooms(20000)
	for n := 1; n <= 7; n++ {
		moved := 0
		for _, r := range rooms {
			before, after := roomsource.ShardOf(r, n), roomsource.ShardOf(r, n+1)
			if before != after {
				moved++
				if after != n {
					t.Fatalf("room %d moved from shard %d to %d going from %d to %d shards", r, before, after, n, n+1)
				}
			}
		}
		share, want := float64(moved)/float64(len(rooms)), 1/float64(n+1)
		if math.Abs(share-want) > 0.02 {
			t.Errorf("%d → %d shards moved %.3f of the rooms, want about %.3f", n, n+1, share, want)
		}
	}
}

// TestShardOfIsTheDocumentedHash pins the contract: the shard is the k
// whose SHA-256 of "<room>/<k>" has the largest first 8 bytes
// (big-endian). Files of shards are merged on it: it never changes.
func TestShardOfIsTheDocumentedHash(t *testing.T) {
	for _, r := range testRooms(500) {
		for n := 1; n <= 6; n++ {
			best, bestW := 0, uint64(0)
			for k := 0; k < n; k++ {
				sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%d", r, k)))
				if w := binary.BigEndian.Uint64(sum[:8]); w > bestW {
					best, bestW = k, w
				}
			}
			if got := roomsource.ShardOf(r, n); got != best {
				t.Fatalf("ShardOf(%d, %d) = %d, the documented hash says %d", r, n, got, best)
			}
		}
	}
	// A few fixed answers (worked out with Python's hashlib), so that a
	// change of the formula above and of the code together is caught too.
	for _, c := range []struct {
		room int64
		n    int
		want int
	}{{21452505, 4, 2}, {76, 4, 2}, {1, 2, 1}, {22637261, 16, 7}, {7734200, 8, 0}} {
		if got := roomsource.ShardOf(c.room, c.n); got != c.want {
			t.Errorf("ShardOf(%d, %d) = %d, want %d", c.room, c.n, got, c.want)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want roomsource.Shard
		ok   bool
	}{
		{"0/1", roomsource.Shard{K: 0, N: 1}, true},
		{"3/4", roomsource.Shard{K: 3, N: 4}, true},
		{"4/4", roomsource.Shard{}, false},
		{"-1/4", roomsource.Shard{}, false},
		{"0/0", roomsource.Shard{}, false},
		{"1", roomsource.Shard{}, false},
		{"a/b", roomsource.Shard{}, false},
		{"1/4/5", roomsource.Shard{}, false},
		{"", roomsource.Shard{}, false},
	} {
		got, err := roomsource.ParseShard(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
		if c.ok && got.String() != c.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), c.in)
		}
	}
	if (roomsource.Shard{}).String() != "" || !(roomsource.Shard{}).Owns(12345) {
		t.Error("the zero Shard must print empty and own every room")
	}
}

// TestDiscoveryShards: four shards reading the same list hold disjoint
// rooms whose union is the list and the given rooms, each with its rank
// in the whole list; a shard owning none of a list with rooms has an
// empty round, not a suspicious one.
func TestDiscoveryShards(t *testing.T) {
	list := testRooms(100)
	fixed := []int64{7, 8, 9, 10, 11}
	owner := map[int64]int{}
	for k := 0; k < 4; k++ {
		d := &roomsource.Discovery{Lister: &fakeLister{lists: [][]int64{list}}, Top: 100, Fixed: fixed, Shard: roomsource.Shard{K: k, N: 4}}
		r, err := d.Refresh1(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range r.Rooms {
			if prev, dup := owner[tg.RoomID]; dup {
				t.Fatalf("room %d in shards %d and %d", tg.RoomID, prev, k)
			}
			owner[tg.RoomID] = k
			if roomsource.ShardOf(tg.RoomID, 4) != k {
				t.Errorf("shard %d holds room %d of shard %d", k, tg.RoomID, roomsource.ShardOf(tg.RoomID, 4))
			}
			if tg.Rank > 0 && list[tg.Rank-1] != tg.RoomID {
				t.Errorf("room %d has rank %d, the list's rank %d is room %d", tg.RoomID, tg.Rank, tg.Rank, list[tg.Rank-1])
			}
		}
		for _, l := range r.Listed {
			if roomsource.ShardOf(l.RoomID, 4) != k {
				t.Errorf("shard %d's round lists room %d of another shard", k, l.RoomID)
			}
		}
	}
	if len(owner) != len(list)+len(fixed) {
		t.Errorf("the shards hold %d rooms together, want %d", len(owner), len(list)+len(fixed))
	}
	// A list of one room another shard owns.
	other := int64(0)
	for _, r := range list {
		if roomsource.ShardOf(r, 2) == 1 {
			other = r
			break
		}
	}
	d := &roomsource.Discovery{Lister: &fakeLister{lists: [][]int64{{other}}}, Top: 10, Shard: roomsource.Shard{K: 0, N: 2}}
	for i := 0; i < 2; i++ {
		r, err := d.Refresh1(context.Background())
		if err != nil || len(r.Rooms) != 0 {
			t.Fatalf("round %d of a shard owning none of the list: %v rooms, %v", i+1, ids(r), err)
		}
	}
}
