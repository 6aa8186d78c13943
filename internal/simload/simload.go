// Package simload is a load client for measuring the simulator from
// outside its process (`danmakud simload`, scripts/simload.sh): many
// anonymous connections that list the live rooms, fetch tokens and
// authenticate as collect does (roomsource, protocol.Dial), heartbeat,
// and count every frame without decoding it, so that what is measured is
// the simulator's own cost.
package simload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/roomsource"
)

// Config is one load run.
type Config struct {
	APIBase string // the simulator's base URL
	Conns   int    // connections to open, spread over the live rooms
	// HTTPRate is the token requests per second; default 1000 (the
	// simulator is told to allow it).
	HTTPRate float64
	// Opened, when set, is called once every connection is open, with
	// their number and the rooms they cover.
	Opened func(conns, rooms int)
}

// Result is what arrived while every connection was open.
type Result struct {
	Conns          int
	Frames, Bytes  int64 // after Opened
	Took           time.Duration
	ClosedByServer int64 // connections the simulator ended before ctx
}

// Run opens the connections, counts what arrives until ctx ends, then
// closes them and returns.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.HTTPRate <= 0 {
		cfg.HTTPRate = 1000
	}
	api, err := roomsource.New(roomsource.Config{APIBase: cfg.APIBase, Rate: cfg.HTTPRate, Burst: int(cfg.HTTPRate)})
	if err != nil {
		return Result{}, err
	}
	listed, err := api.TopRooms(ctx, cfg.Conns, 0)
	if err != nil {
		return Result{}, fmt.Errorf("simload: room list: %w", err)
	}
	if len(listed) == 0 {
		return Result{}, errors.New("simload: no live rooms")
	}
	infos := make([]roomsource.DanmuInfo, len(listed))
	for i, r := range listed {
		if infos[i], err = api.DanmuInfoAs(ctx, r.RoomID, -1); err != nil {
			return Result{}, fmt.Errorf("simload: getDanmuInfo %d: %w", r.RoomID, err)
		}
	}
	var frames, bytesIn, lost atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range cfg.Conns {
		info, room := infos[i%len(infos)], listed[i%len(listed)].RoomID
		sess, err := protocol.Dial(ctx, protocol.SessionConfig{URL: api.URL(info, 0), RoomID: room,
			Key: info.Token, Buvid: info.Identity.Buvid, UserAgent: roomsource.DefaultUserAgent})
		if err != nil {
			return Result{}, fmt.Errorf("simload: connection %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := sess.Run(ctx, func(msg []byte) {
				frames.Add(1)
				bytesIn.Add(int64(len(msg)))
			})
			if ctx.Err() == nil && err != nil {
				lost.Add(1)
			}
		}()
	}
	if cfg.Opened != nil {
		cfg.Opened(cfg.Conns, len(listed))
	}
	start, f0, b0 := time.Now(), frames.Load(), bytesIn.Load()
	<-ctx.Done()
	return Result{Conns: cfg.Conns, Frames: frames.Load() - f0, Bytes: bytesIn.Load() - b0, Took: time.Since(start),
		ClosedByServer: lost.Load()}, nil
}
