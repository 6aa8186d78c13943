package collector

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testkit"
)

// fakeChecker counts its checks; block, when set, holds a check until
// the connection's context ends.
type fakeChecker struct {
	every  time.Duration
	n      atomic.Int64
	block  bool
	inside chan struct{}
	once   sync.Once
}

func (f *fakeChecker) interval() time.Duration { return f.every }
func (f *fakeChecker) check(ctx context.Context) bool {
	f.n.Add(1)
	if f.block {
		f.once.Do(func() { close(f.inside) })
		<-ctx.Done()
		return false
	}
	return true
}

// TestWatchSchedulerRunsChecksAndRemoves: connections are checked again
// and again at their intervals on the scheduler's goroutines; a removed
// connection is not checked again, and remove waits for a running check.
func TestWatchSchedulerRunsChecksAndRemoves(t *testing.T) {
	s := newWatchScheduler()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	fast := &fakeChecker{every: 5 * time.Millisecond}
	slow := &fakeChecker{every: time.Hour}
	itFast := s.add(context.Background(), fast, time.Millisecond)
	s.add(context.Background(), slow, time.Hour)
	testkit.Poll(t, 10*time.Second, "five checks of the fast connection", func() bool { return fast.n.Load() >= 5 })
	s.remove(itFast)
	after := fast.n.Load()
	if slow.n.Load() != 0 {
		t.Errorf("a connection due in an hour was checked %d times", slow.n.Load())
	}
	// A check that runs when its connection is removed: remove returns
	// only after it ended (its connection's context ends first, as the
	// worker cancels it before removing).
	connCtx, endConn := context.WithCancel(context.Background())
	blocking := &fakeChecker{every: time.Millisecond, block: true, inside: make(chan struct{})}
	itBlock := s.add(connCtx, blocking, 0)
	<-blocking.inside
	endConn()
	s.remove(itBlock)
	stop()
	<-done
	if n := fast.n.Load(); n > after+1 { // at most the one already running
		t.Errorf("%d checks after remove", n-after)
	}
	if s.queue.Len() != 1 {
		t.Errorf("queue holds %d items, want the slow one", s.queue.Len())
	}
}
