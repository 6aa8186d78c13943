package daemon_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/danmakud/danmakud/daemon"
)

func TestKindOf(t *testing.T) {
	locked := &daemon.Error{Kind: daemon.Locked, Err: errors.New("held")}
	for _, c := range []struct {
		err  error
		want daemon.Kind
	}{
		{errors.New("plain"), daemon.Failure},
		{locked, daemon.Locked},
		{fmt.Errorf("wrapped: %w", locked), daemon.Locked},
		{&daemon.Error{Kind: daemon.Interrupted, Err: errors.New("x")}, daemon.Interrupted},
	} {
		if got := daemon.KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestNewRefusesNothingToWatch: a Config that cannot run is a Usage error
// from New, before anything is opened.
func TestNewRefusesNothingToWatch(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	for name, cfg := range map[string]daemon.Config{
		"no db":       {Top: 1},
		"nothing":     {DB: db},
		"negative":    {DB: db, Top: -1},
		"room id ≤ 0": {DB: db, Rooms: []int64{0}},
	} {
		_, err := daemon.New(cfg)
		if err == nil || daemon.KindOf(err) != daemon.Usage {
			t.Errorf("%s: %v, want a Usage error", name, err)
		}
	}
}
