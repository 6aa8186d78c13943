package collector

import (
	"context"
	"log/slog"
	"sync"

	"github.com/danmakud/danmakud/roomsource"
)

// Runner is a room worker: Run returns when ctx is done (or never
// earlier). The supervisor owns its lifetime.
type Runner interface {
	Run(ctx context.Context)
}

// Factory makes the worker for a room.
type Factory func(t roomsource.Target) Runner

// handle is a running worker: its cancel and its done channel.
type handle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Supervisor reconciles the desired room set into running workers, keyed
// by room id. Reconcile and StopAll must not be called concurrently (the
// supervisor's loop is their only caller).
type Supervisor struct {
	factory Factory
	log     *slog.Logger
	workers map[int64]*handle
}

// NewSupervisor returns a supervisor that makes workers with factory.
func NewSupervisor(factory Factory, log *slog.Logger) *Supervisor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{factory: factory, log: log, workers: map[int64]*handle{}}
}

// Reconcile makes the running set equal desired: it cancels workers for
// rooms not in desired, starts workers for new rooms (under ctx), and
// returns only after the stopped workers have exited. desired must be
// the full set.
func (s *Supervisor) Reconcile(ctx context.Context, desired []roomsource.Target) (started, stopped int) {
	want := make(map[int64]roomsource.Target, len(desired))
	for _, t := range desired {
		want[t.RoomID] = t
	}
	var gone []*handle
	for id, h := range s.workers {
		if _, ok := want[id]; !ok {
			h.cancel()
			gone = append(gone, h)
			delete(s.workers, id)
			s.log.Info("room left the desired set", "room_id", id)
		}
	}
	for id, t := range want {
		if _, ok := s.workers[id]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		h := &handle{cancel: cancel, done: make(chan struct{})}
		s.workers[id] = h
		r := s.factory(t)
		go func() {
			defer close(h.done)
			r.Run(wctx)
		}()
		started++
	}
	// Wait for the stopped rooms only now: one slow drain must not delay
	// the new rooms (they were started above), and the stops run in
	// parallel.
	for _, h := range gone {
		<-h.done
	}
	return started, len(gone)
}

// Running returns how many workers run.
func (s *Supervisor) Running() int { return len(s.workers) }

// StopAll cancels every worker and waits for all of them.
func (s *Supervisor) StopAll() {
	var wg sync.WaitGroup
	for id, h := range s.workers {
		h.cancel()
		wg.Add(1)
		go func(h *handle) {
			defer wg.Done()
			<-h.done
		}(h)
		delete(s.workers, id)
	}
	wg.Wait()
}

// Run reconciles every round from rounds until ctx is done, then stops
// all workers and returns. Rounds that pile up while a reconcile waits
// for stopping workers coalesce: only the latest full set is applied.
// onRound, if not nil, sees every applied round first and returns the
// rooms to run (the round's, or fewer).
func (s *Supervisor) Run(ctx context.Context, rounds <-chan roomsource.Round, onRound func(roomsource.Round) []roomsource.Target) {
	defer s.StopAll()
	for {
		var r roomsource.Round
		select {
		case <-ctx.Done():
			return
		case r = <-rounds:
		}
	drain:
		for {
			select {
			case newer := <-rounds:
				r = newer
			default:
				break drain
			}
		}
		rooms := r.Rooms
		if onRound != nil {
			rooms = onRound(r)
		}
		started, stopped := s.Reconcile(ctx, rooms)
		if started+stopped > 0 {
			s.log.Info("rooms reconciled", "round", r.N, "running", len(s.workers), "started", started, "stopped", stopped)
		}
	}
}
