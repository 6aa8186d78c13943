package roomsource_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/roomsource"
)

// TestSourceAddr: every request leaves from Config.SourceAddr (the
// simulator sees no other address); with an HTTPClient too New refuses.
func TestSourceAddr(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3})
	c := newClient(t, s.URL(), roomsource.Config{SourceAddr: netip.MustParseAddr("127.0.0.6")})
	ctx := context.Background()
	if err := c.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TopRooms(ctx, 3, 0); err != nil {
		t.Fatal(err)
	}
	st := s.IPStats()
	if len(st) != 1 || st["127.0.0.6"].HTTPRequests < 3 || st["127.0.0.6"].Paths["/room/v1/Area/getListByAreaID"] == 0 {
		t.Errorf("the simulator saw %+v, want every request from 127.0.0.6", st)
	}
	_, err := roomsource.New(roomsource.Config{HTTPClient: &http.Client{}, SourceAddr: netip.MustParseAddr("127.0.0.6")})
	if err == nil {
		t.Error("New took an HTTPClient and a SourceAddr")
	}
}
