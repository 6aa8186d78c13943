package collector

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/danmakud/danmakud/internal/backoff"
	"github.com/danmakud/danmakud/internal/descriptors"
	"github.com/danmakud/danmakud/roomsource"
)

// retryPolicy picks the wait before a worker's next attempt on the
// shared backoff (exponential from BackoffMin, jittered over [d/2, d],
// capped at BackoffMax, reset after a healthy session); the error
// decides: at least RateLimitWait after a 412, the cap for a missing
// room or for descriptors run out, the minimum (without growing) after a recycle or after a healthy
// session the server ended. Owned by one worker.
type retryPolicy struct {
	bo             *backoff.Backoff
	max, rateLimit time.Duration
}

func newRetryPolicy(cfg *Config, rng *rand.Rand) *retryPolicy {
	return &retryPolicy{bo: backoff.New(cfg.BackoffMin, cfg.BackoffMax, rng), max: cfg.BackoffMax, rateLimit: cfg.RateLimitWait}
}

func (p *retryPolicy) reset() { p.bo.Reset() }

// next returns the wait after a session that ended with err; healthy
// says it had been authenticated for HealthyAfter.
func (p *retryPolicy) next(err error, healthy bool) time.Duration {
	switch {
	case errors.Is(err, errStarved), errors.Is(err, errUpgrade):
		return p.bo.Jitter(p.bo.Min()) // not the room's fault: no growth
	case errors.Is(err, roomsource.ErrRateLimited), errors.Is(err, roomsource.ErrBreakerOpen):
		return p.bo.Jitter(max(p.bo.Next(), p.rateLimit))
	case errors.Is(err, roomsource.ErrRoomNotFound), descriptors.Exhausted(err):
		p.bo.Next()
		return p.bo.Jitter(p.max)
	case healthy:
		return p.bo.Jitter(p.bo.Min()) // a drop after a good session: come back at once
	}
	return p.bo.Jitter(p.bo.Next())
}
