package daemon

import (
	"cmp"
	"slices"
	"time"
)

// CoverageSummary is a run's coverage summed over its rooms
// (Result.CoverageSummary).
type CoverageSummary struct {
	// Rooms is how many rooms have a coverage count.
	Rooms int
	// Judged is the history danmaku checked against what arrived while a
	// connection was up, summed over the rooms; Arrived how many of them
	// arrived. Judged 0 means there is no estimate at all.
	Judged, Arrived int64
	// ConnectedShare is the mean over the rooms of each one's connected
	// time over the time it was wanted (0 to 1; 0 with no rooms).
	ConnectedShare float64
	// Estimated is how many rooms have an estimate (at least
	// storage.MinCoverageSamples judged items,
	// collector.CoverageCount.Estimate); Sampled how many are known to get
	// a sample (anonymous, over every budget, or throttled).
	Estimated, Sampled int
	// Low are the rooms whose estimate is below the threshold given,
	// lowest first (ties by room id).
	Low []RoomCoverage
}

// RoomCoverage is one room's coverage estimate (0 to 1) and its 95 %
// interval [Low, High] (collector.CoverageCount.Interval).
type RoomCoverage struct {
	Room      int64
	Estimate  float64
	Low, High float64
}

// CoverageSummary sums r.Coverage as of now and lists in Low the rooms
// whose estimate is below low (a share, e.g. 0.9). Call it once Run has
// returned, when the counts are final; it is safe at any time, as each
// count is read atomically.
func (r *Result) CoverageSummary(now time.Time, low float64) CoverageSummary {
	var s CoverageSummary
	for room, c := range r.Coverage {
		s.Rooms++
		s.Judged += c.Judged.Load()
		s.Arrived += c.Arrived.Load()
		s.ConnectedShare += c.ConnectedShare(now)
		if c.Sampled.Load() {
			s.Sampled++
		}
		if e, ok := c.Estimate(now); ok {
			s.Estimated++
			if e < low {
				lo, hi, _ := c.Interval(now)
				s.Low = append(s.Low, RoomCoverage{room, e, lo, hi})
			}
		}
	}
	if s.Rooms > 0 {
		s.ConnectedShare /= float64(s.Rooms)
	}
	slices.SortFunc(s.Low, func(a, b RoomCoverage) int {
		return cmp.Or(cmp.Compare(a.Estimate, b.Estimate), cmp.Compare(a.Room, b.Room))
	})
	return s
}
