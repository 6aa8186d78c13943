package collector

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// watchParallel bounds the coverage checks running at once (each is an
// HTTP request through the shared budget and a heartbeat barrier).
const watchParallel = 64

// watchScheduler runs every connection's coverage checks: one goroutine
// keeps the connections in the order of their next check, and a due
// check runs on a goroutine of its own (at most watchParallel at once),
// so a connection costs no goroutine while it waits. Safe for concurrent
// use.
type watchScheduler struct {
	mu    sync.Mutex
	queue watchQueue
	wake  chan struct{} // cap 1: the queue's head changed
	sem   chan struct{}
	wg    sync.WaitGroup // running checks
}

// checker is one connection's checks: check makes one and says whether
// another should follow, after interval (*watchdog).
type checker interface {
	check(ctx context.Context) bool
	interval() time.Duration
}

// watchItem is one connection's place in the scheduler.
type watchItem struct {
	d       checker
	ctx     context.Context // the connection's: ends with it
	due     time.Time
	index   int           // in the queue; -1 when not queued
	running chan struct{} // closed when the running check ends; nil when none runs
	gone    bool          // removed: never queued again
}

func newWatchScheduler() *watchScheduler {
	return &watchScheduler{wake: make(chan struct{}, 1), sem: make(chan struct{}, watchParallel)}
}

// add schedules d's first check after first; ctx is the connection's.
func (s *watchScheduler) add(ctx context.Context, d checker, first time.Duration) *watchItem {
	it := &watchItem{d: d, ctx: ctx, due: time.Now().Add(first)}
	s.mu.Lock()
	heap.Push(&s.queue, it)
	s.mu.Unlock()
	s.poke()
	return it
}

// remove takes the connection out (it has ended) and returns once no
// check of it runs.
func (s *watchScheduler) remove(it *watchItem) {
	s.mu.Lock()
	it.gone = true
	if it.index >= 0 {
		heap.Remove(&s.queue, it.index)
	}
	running := it.running
	s.mu.Unlock()
	if running != nil {
		<-running
	}
}

func (s *watchScheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run starts the due checks until ctx ends, then waits for the running
// ones (they end with their connections).
func (s *watchScheduler) run(ctx context.Context) {
	defer s.wg.Wait()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := s.startDue(ctx)
		if ctx.Err() != nil {
			return
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// startDue starts every check that is due and returns the time until the
// next one.
func (s *watchScheduler) startDue(ctx context.Context) time.Duration {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return time.Hour
		}
		it := s.queue[0]
		if wait := time.Until(it.due); wait > 0 {
			s.mu.Unlock()
			return wait
		}
		heap.Pop(&s.queue)
		it.running = make(chan struct{})
		s.mu.Unlock()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			s.finish(it, false)
			return 0
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			more := it.ctx.Err() == nil && it.d.check(it.ctx)
			<-s.sem
			s.finish(it, more)
		}()
	}
}

// finish ends a check: the connection is queued again when it wants
// more and is still there.
func (s *watchScheduler) finish(it *watchItem, more bool) {
	s.mu.Lock()
	close(it.running)
	it.running = nil
	if more && !it.gone && it.ctx.Err() == nil {
		it.due = time.Now().Add(it.d.interval())
		heap.Push(&s.queue, it)
	}
	s.mu.Unlock()
	s.poke()
}

// watchQueue is a min-heap of items by due time.
type watchQueue []*watchItem

func (q watchQueue) Len() int           { return len(q) }
func (q watchQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q watchQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *watchQueue) Push(x any) {
	it := x.(*watchItem)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *watchQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.index = -1
	*q = old[:len(old)-1]
	return it
}
