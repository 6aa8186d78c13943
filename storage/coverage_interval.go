package storage

import "math"

// CoverageInterval is the 95 % interval (Wilson score) of a room's
// estimated coverage: of judged room-history danmaku, arrived arrived,
// and the room was connected connectedShare (0–1) of the time it was
// wanted; the history share's interval is scaled by that share, as the
// estimate is (CoverageEstimate). It is what the status page and the
// HTML report draw beside an estimate. judged ≤ 0 gives [0, share].
func CoverageInterval(judged, arrived int64, connectedShare float64) (lo, hi float64) {
	share := min(max(connectedShare, 0), 1)
	if judged <= 0 {
		return 0, share
	}
	n := float64(judged)
	p := min(1, max(0, float64(arrived)/n))
	const z = 1.96
	center := (p + z*z/(2*n)) / (1 + z*z/n)
	half := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / (1 + z*z/n)
	return max(0, center-half) * share, min(1, center+half) * share
}
