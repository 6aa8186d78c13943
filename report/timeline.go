package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/danmakud/danmakud/storage"
)

// bucketSteps are the chart buckets the report chooses from, minutes.
var bucketSteps = []int64{1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440}

// maxBuckets bounds the points of a time chart.
const maxBuckets = 720

// timeRange is the report's time axis: whole buckets of step minutes
// from the first minute with data to the last.
type timeRange struct {
	first, last int64 // unix minutes
	step        int64 // minutes per bucket
}

func (r timeRange) buckets() int { return int((r.last-r.first)/r.step) + 1 }

// bucketStart is bucket i's start, unix seconds.
func (r timeRange) bucketStart(i int) float64 { return float64((r.first + int64(i)*r.step) * 60) }

// rangeOf spans every event minute, run and connection of a.
func rangeOf(a *storage.Activity) (timeRange, bool) {
	var r timeRange
	ok := false
	see := func(minute int64) {
		if !ok {
			r.first, r.last, ok = minute, minute, true
		}
		r.first, r.last = min(r.first, minute), max(r.last, minute)
	}
	for _, m := range a.PerMinute {
		for minute := range m {
			see(minute)
		}
	}
	for _, s := range a.Spans {
		see(s.FromMs / 60000)
		see(s.ToMs / 60000)
	}
	if !ok {
		return r, false
	}
	span := r.last - r.first + 1
	r.step = bucketSteps[len(bucketSteps)-1]
	for _, s := range bucketSteps {
		if span/s < maxBuckets {
			r.step = s
			break
		}
	}
	r.first = r.first / r.step * r.step
	return r, true
}

// perBucket sums a per-minute count into the range's buckets.
func (r timeRange) perBucket(m map[int64]int64) []int64 {
	out := make([]int64, r.buckets())
	for minute, n := range m {
		if i := (minute - r.first) / r.step; i >= 0 && i < int64(len(out)) {
			out[i] += n
		}
	}
	return out
}

// covered is, per bucket of r, how many milliseconds of it some run
// covered (runs overlap when several files are read). A bucket no run
// covers (a file without runs) counts as covered whole, so that its
// counts still give a rate.
func (r timeRange) covered(runs []storage.RunSpan) []float64 {
	out := make([]float64, r.buckets())
	spans := slices.Clone(runs)
	slices.SortFunc(spans, func(a, b storage.RunSpan) int { return cmp.Compare(a.FromMs, b.FromMs) })
	var merged []storage.RunSpan
	for _, s := range spans {
		if n := len(merged); n > 0 && s.FromMs <= merged[n-1].ToMs {
			merged[n-1].ToMs = max(merged[n-1].ToMs, s.ToMs)
			continue
		}
		merged = append(merged, s)
	}
	step := r.step * 60000
	for _, s := range merged {
		for i := max(0, (s.FromMs/60000-r.first)/r.step); i < int64(len(out)); i++ {
			start := (r.first*60000 + i*step)
			if start >= s.ToMs {
				break
			}
			out[i] += float64(min(s.ToMs, start+step) - max(s.FromMs, start))
		}
	}
	for i := range out {
		if out[i] <= 0 {
			out[i] = float64(step)
		}
	}
	return out
}

// gap is a stretch with no room connected.
type gap struct{ from, to time.Time }

// connected returns, per bucket of r, the average number of rooms with a
// connection up over the part of the bucket a run covered (covered), and
// the gaps of at least minGap between the first connection and the last
// end in which none was.
func (r timeRange) connected(spans []storage.ConnSpan, covered []float64, minGap time.Duration) ([]float64, []gap) {
	type edge struct {
		at    int64 // unix ms
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s.FromMs, 1}, edge{s.ToMs, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(b.delta, a.delta)) })
	avg := make([]float64, r.buckets())
	var gaps []gap
	cur, k := 0, 0
	var idleSince int64 = -1
	for i := range avg {
		start, end := (r.first+int64(i)*r.step)*60000, (r.first+int64(i+1)*r.step)*60000
		t, area := start, 0.0
		for ; k < len(edges) && edges[k].at < end; k++ {
			e := edges[k]
			if e.at > t {
				area += float64(cur) * float64(e.at-t)
				t = e.at
			}
			prev := cur
			cur += e.delta
			switch {
			case prev > 0 && cur == 0:
				idleSince = e.at
			case prev == 0 && cur > 0 && idleSince >= 0:
				if time.Duration(e.at-idleSince)*time.Millisecond >= minGap {
					gaps = append(gaps, gap{time.UnixMilli(idleSince), time.UnixMilli(e.at)})
				}
				idleSince = -1
			}
		}
		area += float64(cur) * float64(end-t)
		avg[i] = area / covered[i]
	}
	return avg, gaps
}

// bilibiliHours sums a per-minute count by hour of the day in UTC+8.
func bilibiliHours(m map[int64]int64) [24]int64 {
	var h [24]int64
	for minute, n := range m {
		h[((minute+8*60)/60)%24] += n
	}
	return h
}
