package simload

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
)

// TestRunCountsFrames: four connections over three rooms stay open and
// count what the simulator sends them.
func TestRunCountsFrames(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 300, Tick: 20 * time.Millisecond, HTTPRate: 1000, HTTPBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rooms int
	cfg := Config{APIBase: sim.URL(), Conns: 4, Opened: func(_, r int) {
		rooms = r
		time.AfterFunc(time.Second, cancel)
	}}
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Conns != 4 || rooms != 3 || r.Frames == 0 || r.Bytes == 0 || r.ClosedByServer != 0 {
		t.Errorf("result %+v over %d rooms", r, rooms)
	}
}
