package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/roomsource"
)

// TestShardsKill9 runs the test of shards: see shardRun. The files and the
// truth it returns are what a check of merged files starts from.
func TestShardsKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	shardRun(t)
}

// shardSize is the test's size: rooms, messages/s, accounts per shard,
// the shards' --refresh (a round lists rooms/30 pages).
type shardSize struct {
	rooms    int
	rate     float64
	accounts int
	refresh  string
}

// shards is how many shards the test runs; shard killedShard is killed.
const (
	shards      = 4
	killedShard = 1
)

// shardAddr is shard k's source address (any 127.0.0.0/8 address is
// local on Linux): 127.0.0.2 … 127.0.0.5.
func shardAddr(k int) string { return "127.0.0." + strconv.Itoa(2+k) }

// shardRun runs four shards of collect (the built binary), each from its
// own source address with two simulated accounts of its own and its own
// database, against a simulator that limits every source IP: danmaku
// connections (--ip-conn-limit, fewer than the rooms) and HTTP requests
// (a budget below the room count). Once every room is connected, shard 1
// is killed (SIGKILL), its connections seen closed, the rooms' traffic
// goes on for a while, and it is started again. Then:
//   - every room was watched by exactly one shard, the one ShardOf names;
//   - no source IP went over a limit (peak connections, no connection
//     cut for the limit, no 412) and every request and connection came
//     from the shards' own addresses;
//   - the other shards lost nothing: every event their rooms generated
//     after all were connected was delivered, each room on one
//     connection, and what they stored equals what was delivered;
//   - the killed shard lost only its gap: its rooms missed events
//     generated while it was down, it stored no event twice (journal
//     replay and new run together) and at most what was delivered.
//
// It returns the four database files (by shard) and the simulator's final
// truth (every room delivered, generated, and per source IP). With
// DANMAKUD_SOAK=1: 200 rooms at 3,000 messages/s.
func shardRun(t *testing.T) (files []string, truth livesim.Truth) {
	bin := builtBinary(t)
	size := shardSize{rooms: 24, rate: 300, accounts: 2, refresh: "2s"}
	if testkit.Soak() {
		size = shardSize{rooms: 200, rate: 3000, accounts: 12, refresh: "10s"}
	}
	const roomsPerAccount = 5
	// Each IP may hold half as many connections again as a shard's mean
	// share: fewer than the rooms, more than any shard's (checked below).
	limit := size.rooms * 3 / (2 * shards)
	sim, err := livesim.New(livesim.Options{Rooms: size.rooms, Rate: size.rate, Seed: 13, Tick: 50 * time.Millisecond,
		AnonKeep: 0.1, Accounts: shards * size.accounts, AccountRooms: roomsPerAccount,
		IPConnLimit: limit, HTTPRate: 5, HTTPBurst: 10, BanFor: time.Minute}) // shards send ≤ 3/s, 6 at once
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	owner := map[string]int{} // room id → shard
	share := make([]int, shards)
	for _, id := range sim.RoomIDs() {
		k := roomsource.ShardOf(id, shards)
		owner[strconv.FormatInt(id, 10)] = k
		share[k]++
	}
	for k, n := range share {
		if n > size.accounts*roomsPerAccount || n >= limit {
			t.Fatalf("shard %d owns %d rooms: more than its accounts watch in full, or not below the limit of %d: change the seed", k, n, limit)
		}
	}
	cookies := testkit.SimCookieFiles(t, sim, shards*size.accounts)
	dir := t.TempDir()
	procs := make([]*shardProc, shards)
	for k := range procs {
		procs[k] = &shardProc{k: k, bin: bin, db: filepath.Join(dir, fmt.Sprintf("shard-%d.db", k)), metrics: freeAddr(t),
			args: []string{"--api-base", sim.URL(), "--top", strconv.Itoa(size.rooms), "--rooms-per-account", strconv.Itoa(roomsPerAccount),
				"--refresh", size.refresh}}
		for _, c := range cookies[k*size.accounts : (k+1)*size.accounts] {
			procs[k].args = append(procs[k].args, "--cookie-file", c)
		}
		procs[k].start(t)
	}
	defer func() {
		for _, p := range procs {
			_ = p.kill()
		}
	}()
	open := func(k int) int64 { return sim.IPStats()[shardAddr(k)].Open }
	all := func() bool {
		for k := range procs {
			if open(k) != int64(share[k]) {
				return false
			}
		}
		return true
	}
	testkit.Poll(t, 90*time.Second, "every room connected", all)
	// Auth counts a connection just before it joins its room: once a few
	// more frames have gone out, every room has its listener.
	frames := sim.Stats().FramesWritten
	testkit.Poll(t, 30*time.Second, "frames written after the last connect", func() bool { return sim.Stats().FramesWritten > frames+int64(2*size.rooms) })
	if !all() {
		t.Fatal("a connection ended before the kill")
	}
	// Delivered first, then generated: whatever was delivered by then was
	// generated by then.
	d0, g0 := sim.Truth().Rooms, sim.Generated()
	sum := func(m map[string]map[string]int64, k int) (n int64) {
		for id, kinds := range m {
			if owner[id] == k {
				n += kinds["danmaku"]
			}
		}
		return n
	}
	killed := procs[killedShard]
	testkit.Poll(t, 30*time.Second, "danmaku delivered to the shard to kill", func() bool {
		return sum(sim.Truth().Rooms, killedShard) >= sum(d0, killedShard)+20
	})
	if err := killed.kill(); err != nil {
		t.Fatal(err)
	}
	testkit.Poll(t, 30*time.Second, "its connections closed", func() bool { return open(killedShard) == 0 })
	// Down for about two seconds of its rooms' danmaku (a restart is not
	// instant, and the simulator's HTTP budget for its address, which the
	// last run may have spent, refills meanwhile, as Bilibili's would).
	gapFrom := sum(sim.Generated(), killedShard)
	testkit.Poll(t, 30*time.Second, "danmaku generated in its rooms while it is down", func() bool {
		return sum(sim.Generated(), killedShard) >= gapFrom+int64(size.rate/4)
	})
	killed.start(t)
	if !testkit.Until(90*time.Second, func() bool { return open(killedShard) == int64(share[killedShard]) }) {
		ip := sim.IPStats()[shardAddr(killedShard)]
		_ = killed.kill()
		t.Fatalf("its rooms did not connect again within 90s: %+v; %s", ip, killed.stderr.String())
	}
	again := sum(sim.Truth().Rooms, killedShard)
	testkit.Poll(t, 30*time.Second, "danmaku delivered to it again", func() bool { return sum(sim.Truth().Rooms, killedShard) >= again+20 })
	sim.StopTraffic()
	testkit.Poll(t, 60*time.Second, "the traffic's end", sim.Idle)
	truth = sim.Truth()
	// The shards that ran throughout have decoded what was delivered to
	// them before they are stopped (the killed one lost what the kernel
	// held at the kill: it is stopped once idle, and the drain at the stop
	// reads what is in flight).
	for k, p := range procs {
		if k == killedShard {
			continue
		}
		testkit.Poll(t, 60*time.Second, fmt.Sprintf("shard %d to decode every danmaku delivered", k), func() bool {
			m, err := testkit.FetchMetrics(p.metrics)
			return err == nil && testkit.MetricValue(m, "danmakud_events_total", "kind", "danmaku") >= float64(sum(truth.Rooms, k))
		})
	}
	for _, p := range procs {
		p.stop(t)
	}
	for _, p := range procs {
		files = append(files, p.db)
	}
	checkShards(t, files, truth, owner, d0, g0, limit)
	return files, truth
}

// checkShards checks the shards' files and the simulator's truth: see
// shardRun.
func checkShards(t *testing.T, files []string, truth livesim.Truth, owner map[string]int, d0, g0 map[string]map[string]int64, limit int) {
	t.Helper()
	watched := map[string]int{}
	var lost, gap int64
	for k, db := range files {
		st := testkit.Summary(t, db)
		for _, c := range st.Connections {
			id := strconv.FormatInt(c.RoomID, 10)
			if prev, dup := watched[id]; dup {
				t.Errorf("room %s watched by shards %d and %d", id, prev, k)
			}
			watched[id] = k
			if owner[id] != k {
				t.Errorf("shard %d watched room %s of shard %d", k, id, owner[id])
			}
			switch {
			case k != killedShard && c.Connections != 1:
				t.Errorf("room %s of shard %d: %d connections, want 1 (no other shard's trouble is its own)", id, k, c.Connections)
			case k == killedShard && c.Connections < 2:
				t.Errorf("room %s of the killed shard: %d connections, want one before the kill and one after", id, c.Connections)
			}
		}
		for id := range owner {
			if owner[id] != k {
				continue
			}
			for _, kind := range livesim.TruthKinds {
				stored, delivered := st.Rooms[id].Kinds[kind], truth.Rooms[id][kind]
				after := delivered - d0[id][kind]
				made := truth.Generated[id][kind] - g0[id][kind]
				switch {
				case k != killedShard && stored != delivered:
					t.Errorf("room %s %s (shard %d): stored %d, delivered %d", id, kind, k, stored, delivered)
				case k != killedShard && after < made:
					t.Errorf("room %s %s (shard %d): %d generated after every room was connected, %d delivered", id, kind, k, made, after)
				case k == killedShard && stored > delivered:
					t.Errorf("room %s %s of the killed shard: stored %d, more than the %d delivered", id, kind, stored, delivered)
				}
				if k == killedShard {
					lost += delivered - stored
					gap += made - after
				}
			}
		}
	}
	if len(watched) != len(owner) {
		t.Errorf("%d of the %d rooms were watched", len(watched), len(owner))
	}
	if gap <= 0 {
		t.Errorf("the killed shard's rooms missed no event while it was down (%d)", gap)
	}
	t.Logf("the killed shard's rooms: %d events generated while it was down (the gap), %d delivered before the kill and not stored (in the kernel then)", gap, lost)
	for ip, st := range truth.IPs {
		k := -1
		for s := 0; s < shards; s++ {
			if ip == shardAddr(s) {
				k = s
			}
		}
		switch {
		case k < 0:
			t.Errorf("the simulator saw %s (%+v): not a shard's address", ip, st)
		case st.PeakConnections > int64(limit) || st.OverLimit > 0 || st.HTTP412 > 0:
			t.Errorf("shard %d's address %s went over its limits (%d connections): %+v", k, ip, limit, st)
		}
		t.Logf("%s: %d connections (peak %d, limit %d), %d HTTP requests (%d listing), %d answered 412",
			ip, st.Connections, st.PeakConnections, limit, st.HTTPRequests, st.Paths["/room/v1/Area/getListByAreaID"], st.HTTP412)
	}
	if len(truth.IPs) != shards {
		t.Errorf("the simulator saw %d source addresses, want the %d shards'", len(truth.IPs), shards)
	}
}

// shardProc is one shard's collect process.
type shardProc struct {
	k                int
	bin, db, metrics string
	args             []string
	cmd              *exec.Cmd
	stderr           bytes.Buffer
	waited           bool
}

// start starts the shard (again): the same flags every time.
func (p *shardProc) start(t *testing.T) {
	t.Helper()
	args := append([]string{"collect", "--db", p.db, "--shard", fmt.Sprintf("%d/%d", p.k, shards), "--source-addr", shardAddr(p.k),
		"--http-rate", "3", "--flush-interval", "300ms", "--heartbeat", "1s", "--watchdog", "0",
		"--lock-wait", "10s", "--quiet", "--metrics-addr", p.metrics}, p.args...)
	p.cmd = exec.Command(p.bin, args...)
	p.stderr.Reset()
	p.cmd.Stderr = &p.stderr
	p.waited = false
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill ends the shard with SIGKILL (nothing when it has ended) and
// reports a shard that had ended before.
func (p *shardProc) kill() error {
	if p.cmd == nil || p.waited {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := p.cmd.Wait()
	p.waited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return fmt.Errorf("shard %d ended with %v before the kill: %s", p.k, err, p.stderr.String())
	}
	return nil
}

// stop ends the shard with SIGTERM and wants exit status 0.
func (p *shardProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	p.waited = true
	if err != nil {
		t.Fatalf("shard %d: %v: %s", p.k, err, p.stderr.String())
	}
}
