package collector

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/roomsource"
)

// slowRunner signals its start, and after its context ends it waits for
// release before it exits (a slow drain).
type slowRunner struct {
	started chan<- int64
	release <-chan struct{}
	id      int64
}

func (r *slowRunner) Run(ctx context.Context) {
	r.started <- r.id
	<-ctx.Done()
	<-r.release
}

// TestSlowDrainDoesNotDelayNewRooms: a room leaving the set whose worker
// takes long to stop does not hold back the room that replaces it: the
// new room's worker starts while the old one is still draining, and
// Reconcile returns once the old one has exited.
func TestSlowDrainDoesNotDelayNewRooms(t *testing.T) {
	started := make(chan int64, 4)
	release := make(chan struct{})
	s := NewSupervisor(func(t roomsource.Target) Runner {
		return &slowRunner{started: started, release: release, id: t.RoomID}
	}, nil)
	ctx := context.Background()
	s.Reconcile(ctx, []roomsource.Target{{RoomID: 1}})
	if id := <-started; id != 1 {
		t.Fatalf("started %d", id)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Reconcile(ctx, []roomsource.Target{{RoomID: 2}})
	}()
	select {
	case id := <-started:
		if id != 2 {
			t.Fatalf("started %d", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("room 2 did not start while room 1 was draining")
	}
	select {
	case <-done:
		t.Fatal("Reconcile returned before room 1's worker exited")
	default:
	}
	close(release)
	<-done
	s.StopAll()
}
