package daemon_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
)

// A Go program runs a collection with a Config and Run. Here the
// simulator stands in for Bilibili (APIBase); against the real service
// leave APIBase empty and give Accounts (roomsource.LoadAccounts).
func Example() {
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 200, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "danmakud-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	d, err := daemon.New(daemon.Config{
		DB:       filepath.Join(dir, "rooms.db"),
		Top:      3,
		Duration: 3 * time.Second,
		APIBase:  sim.URL(),
		Tuning:   daemon.Tuning{Spread: 500 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := d.Run(context.Background(), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", res.Status)
	fmt.Println("rooms watched:", len(res.Coverage))
	fmt.Println("events stored:", res.Totals.Events > 0 && res.Totals.Rows > 0)
	// Output:
	// status: ok
	// rooms watched: 3
	// events stored: true
}
