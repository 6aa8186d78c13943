package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/backoff"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// started is what the bootstrap found: the API client and the --room
// rooms resolved to real ids, with what room_init said of them.
type started struct {
	api   *roomsource.Client
	fixed []int64
	metas []storage.RoomMeta
}

// bootstrap makes the API client, fetches what every request needs
// (buvid3, WBI keys), resolves the given rooms and checks the area. A
// failure ends the run in the runs table with a short status.
func (d *Daemon) bootstrap(ctx context.Context, db *storage.DB, runID int64, deadline time.Time) (*started, error) {
	cfg := &d.cfg
	endRun := func(status string) { _ = db.EndRun(context.Background(), runID, status) }
	api, err := roomsource.New(roomsource.Config{APIBase: cfg.APIBase, Rate: cfg.HTTPRate, Burst: max(2, int(cfg.HTTPRate*2)),
		Accounts: cfg.Accounts, Logger: cfg.Logger, BreakerPause: cfg.Tuning.BreakerPause, Observer: d.mx, SourceAddr: cfg.SourceAddr})
	if err != nil {
		endRun("bad configuration")
		return nil, usageErr(err)
	}
	if err := d.reachAPI(ctx, api, deadline); err != nil {
		endRun("bootstrap failed")
		return nil, failureErr(err)
	}
	s := &started{api: api}
	var bad []string
	for _, id := range cfg.Rooms {
		ri, err := api.RoomInit(ctx, id)
		if errors.Is(err, roomsource.ErrRoomNotFound) {
			bad = append(bad, strconv.FormatInt(id, 10))
			cfg.Logger.Error("--room: no such room; skipping it", "room", id)
			continue
		}
		if err != nil {
			endRun("bad room")
			return nil, failureErr(fmt.Errorf("--room %d: %w", id, err))
		}
		if !cfg.Shard.Owns(ri.RoomID) { // another shard's (a short id is known only now)
			continue
		}
		s.fixed = append(s.fixed, ri.RoomID)
		s.metas = append(s.metas, storage.RoomMeta{RoomID: ri.RoomID, ShortID: ri.ShortID, AnchorUID: ri.UID, SeenMs: time.Now().UnixMilli()})
	}
	if len(bad) > 0 && len(bad) == len(cfg.Rooms) && cfg.Top == 0 {
		endRun("bad room")
		return nil, usageErr(fmt.Errorf("--room %s: no such room; nothing left to watch", strings.Join(bad, ", ")))
	}
	if len(cfg.Rooms) > 0 && len(s.fixed) == 0 && cfg.Top == 0 {
		cfg.Logger.Warn("this shard owns none of the given rooms: nothing to watch until it is stopped", "shard", cfg.Shard.String())
	}
	// The list API answers an unknown area with an empty list, as it does
	// an area nobody streams in now: an empty first listing is an error
	// when there is no given room to watch, else a warning.
	if cfg.Area != 0 && cfg.Top > 0 {
		if listed, err := api.TopRooms(ctx, 1, cfg.Area); err == nil && len(listed) == 0 {
			msg := fmt.Sprintf("--area %d lists no live rooms (no such area, or nobody is live in it now)", cfg.Area)
			if len(s.fixed) == 0 {
				endRun("empty area")
				return nil, usageErr(errors.New(msg + "; nothing to watch"))
			}
			cfg.Logger.Warn(msg+"; watching the --room rooms only until it does", "area", cfg.Area)
		}
	}
	return s, nil
}

// reachAPI runs the client's bootstrap (buvid3, WBI keys), retrying with
// a growing, jittered wait (5 s doubling to 5 min): a 412 or a network blip at start should not end a
// daemon. It gives up after Duration, or after StartupPatience without
// one, so that a supervisor (systemd, cron) sees the failure.
func (d *Daemon) reachAPI(ctx context.Context, api *roomsource.Client, deadline time.Time) error {
	start := time.Now()
	patience := StartupPatience
	if d.cfg.Duration > 0 {
		patience = min(patience, time.Until(deadline)+time.Since(start))
	}
	bo := backoff.New(5*time.Second, 5*time.Minute, rand.New(rand.NewPCG(uint64(start.UnixNano()), 0)))
	for {
		err := api.Bootstrap(ctx)
		if err == nil {
			return nil
		}
		wait := bo.Jitter(bo.Next())
		if ctx.Err() != nil || time.Since(start)+wait > patience {
			msg := fmt.Sprintf("cannot reach the Bilibili API (tried for %s): %v", time.Since(start).Round(time.Second), err)
			if until := api.BreakerOpenUntil(); until.After(time.Now()) {
				msg += fmt.Sprintf("; Bilibili is rate-limiting this address (412): try again after %s", until.Format(time.DateTime+" MST"))
			}
			return errors.New(msg)
		}
		d.cfg.Logger.Warn("cannot reach the Bilibili API yet; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}
