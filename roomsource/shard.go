package roomsource

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one of N collectors that split the rooms between them
// (collect --shard K/N): K in 0…N-1. Every shard runs the same discovery
// and keeps the rooms ShardOf gives to K, so every room has exactly one
// owner. The zero Shard (N 0) is a collector on its own: it owns every
// room.
type Shard struct{ K, N int }

// ParseShard reads "K/N" with 0 ≤ K < N (N ≥ 1).
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(s, "/")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%q: want K/N, e.g. 0/4 (shard K of N, counted from 0)", s)
	}
	if ni < 1 {
		return Shard{}, fmt.Errorf("%s: N must be ≥ 1", s)
	}
	sh := Shard{K: ki, N: ni}
	if err := sh.Check(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

// Check reports a Shard that cannot be: N < 0, or K outside 0…N-1 when
// N > 0. The zero Shard is valid.
func (s Shard) Check() error {
	switch {
	case s.N == 0 && s.K == 0:
		return nil
	case s.N < 1:
		return fmt.Errorf("%d/%d: N must be ≥ 1", s.K, s.N)
	case s.K < 0 || s.K >= s.N:
		return fmt.Errorf("%d/%d: K must be in 0…%d", s.K, s.N, s.N-1)
	}
	return nil
}

// String is "K/N" (runs.shard), or "" for the zero Shard.
func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return strconv.Itoa(s.K) + "/" + strconv.Itoa(s.N)
}

// Owns reports whether the room (its real id) is this shard's. The zero
// Shard owns every room.
func (s Shard) Owns(room int64) bool {
	return s.N <= 1 || ShardOf(room, s.N) == s.K
}

// ShardOf is the shard, of n, that owns the room with this real id:
// rendezvous (highest-random-weight) hashing. Each shard k has the weight
// shardWeight(room, k); the highest wins (the lower k on a tie). So
// adding shard n moves to it only the rooms where it now weighs most,
// about 1/(n+1) of them, and removing one moves only its own rooms. n < 1
// counts as 1.
//
// The weights are part of the data's contract: files collected by
// shards are merged on the understanding that no room had two owners,
// so they must never change.
func ShardOf(room int64, n int) int {
	best, bestW := 0, uint64(0)
	for k := 0; k < n; k++ {
		if w := shardWeight(room, k); k == 0 || w > bestW {
			best, bestW = k, w
		}
	}
	return best
}

// shardWeight is the first 8 bytes, big-endian, of the SHA-256 of the
// text "<room>/<k>" (e.g. "21452505/3"), so that anyone can work out a
// room's shard with any tool.
func shardWeight(room int64, k int) uint64 {
	var b [48]byte
	key := strconv.AppendInt(b[:0], room, 10)
	key = append(key, '/')
	key = strconv.AppendInt(key, int64(k), 10)
	sum := sha256.Sum256(key)
	return binary.BigEndian.Uint64(sum[:8])
}
