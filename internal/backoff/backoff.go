// Package backoff is the one doubling wait of every retry loop in
// danmakud: the room workers' reconnects, the HTTP client's 412 breaker,
// the start-up retries and the low-coverage retries. Each loop keeps its
// own policy of which outcome waits how long (a 412 at least this, a
// healthy session no growth, …); the doubling, the cap, the jitter and
// the reset live here.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential wait: the first Next after New or Reset is
// Min, each later one twice the one before, never more than Max. Not safe
// for concurrent use: it belongs to one loop.
type Backoff struct {
	min, max time.Duration
	cur      time.Duration
	rng      *rand.Rand // nil: no jitter
}

// New returns a Backoff from min to max. With rng, Jitter spreads waits
// uniformly over [d/2, d] (so that many loops that failed together do
// not retry together); nil leaves waits exact.
func New(min, max time.Duration, rng *rand.Rand) *Backoff {
	max = mmax(min, max)
	return &Backoff{min: min, max: max, cur: min, rng: rng}
}

func mmax(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Min is the first wait.
func (b *Backoff) Min() time.Duration { return b.min }

// Current is the wait the next Next returns (before jitter).
func (b *Backoff) Current() time.Duration { return b.cur }

// Next returns the current wait (not jittered) and doubles the next one,
// up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d
}

// Reset starts again from Min (after a success).
func (b *Backoff) Reset() { b.cur = b.min }

// Jitter returns d spread uniformly over [d/2, d], or d without an rng.
func (b *Backoff) Jitter(d time.Duration) time.Duration {
	if b.rng == nil || d <= 0 {
		return d
	}
	return d/2 + time.Duration(b.rng.Int64N(int64(d/2)+1))
}
