package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// TestShardsEndToEnd is the acceptance test of sharding: four shards
// under per-IP limits, one killed -9 and restarted, beside a reference run
// without limits (shardRun); their four files merged, twice, and the
// merge compared with the reference table by table, with stats of the
// four files, and, through DuckDB, with its Parquet segments
// (checkMerged). Rotation across file boundaries is daemon's
// TestRotation.
func TestShardsEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	checkMerged(t, shardRun(t))
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
// roomsPerAccount is every process's --rooms-per-account.
const (
	shards          = 4
	killedShard     = 1
	roomsPerAccount = 5
)

// shardAddr is shard k's source address (any 127.0.0.0/8 address is
// local on Linux): 127.0.0.2 … 127.0.0.5; refAddr is the reference
// run's, which the simulator holds to no limit (ReferenceIPs).
func shardAddr(k int) string { return "127.0.0." + strconv.Itoa(2+k) }

const refAddr = "127.0.0.6"

// shardResult is what shardRun leaves for the checks of the merge.
type shardResult struct {
	bin, dir string
	files    []string // shard k's database
	ref      string   // the reference run's database
	truth    livesim.Truth
	owner    map[string]int // room id → the shard that owns it
	// cutMs: every room of every process was connected (and joined) by
	// then; killMs: just before the kill; backMs: the killed shard's
	// rooms were joined again by then (wall clock, unix ms, as recv_ms).
	cutMs, killMs, backMs int64
	// missed is, per truth kind, what the killed shard's rooms generated
	// after the cut and it never stored: its gap plus what the kernel held
	// at the kill.
	missed map[string]int64
}

// shardRun runs four shards of collect (the built binary), each from its
// own source address with two simulated accounts of its own and its own
// database, against a simulator that limits every source IP: danmaku
// connections (--ip-conn-limit, fewer than the rooms) and HTTP requests
// (a budget below the room count). Beside them runs a reference: one
// collect of every room, unsharded, with accounts enough to watch every
// room in full, from an address the simulator exempts from its limits
// and leaves out of its truth (ReferenceIPs); it is never killed. Once
// every room is connected, shard 1 is killed (SIGKILL), its connections
// seen closed, the rooms' traffic goes on for a while, and it is started
// again. Then:
//   - every room was watched by exactly one shard, the one ShardOf names;
//   - no shard's IP went over a limit (peak connections, no connection
//     cut for the limit, no 412) and every request and connection came
//     from the shards' own addresses or the reference's;
//   - the other shards lost nothing: every event their rooms generated
//     after all were connected was delivered, each room on one
//     connection, and what they stored equals what was delivered;
//   - the killed shard lost only its gap: its rooms missed events
//     generated while it was down, it stored no event twice (journal
//     replay and new run together) and at most what was delivered;
//   - the reference watched every room on one logged-in connection and
//     stored every event generated after all were connected.
//
// With DANMAKUD_SOAK=1: 200 rooms at 3,000 messages/s.
func shardRun(t *testing.T) *shardResult {
	bin := builtBinary(t)
	size := shardSize{rooms: 24, rate: 300, accounts: 2, refresh: "2s"}
	if testkit.Soak() {
		size = shardSize{rooms: 200, rate: 3000, accounts: 12, refresh: "10s"}
	}
	refAccounts := size.rooms/roomsPerAccount + 1
	// Each IP may hold half as many connections again as a shard's mean
	// share: fewer than the rooms, more than any shard's (checked below).
	limit := size.rooms * 3 / (2 * shards)
	sim, err := livesim.New(livesim.Options{Rooms: size.rooms, Rate: size.rate, Seed: 13, Tick: 50 * time.Millisecond,
		AnonKeep: 0.1, Accounts: shards*size.accounts + refAccounts, AccountRooms: roomsPerAccount,
		IPConnLimit: limit, HTTPRate: 5, HTTPBurst: 10, BanFor: time.Minute, // shards send ≤ 3/s (newProc), 6 at once
		ReferenceIPs: []string{refAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := &shardResult{bin: bin, dir: t.TempDir(), owner: map[string]int{}}
	share := make([]int, shards)
	for _, id := range sim.RoomIDs() {
		k := roomsource.ShardOf(id, shards)
		r.owner[strconv.FormatInt(id, 10)] = k
		share[k]++
	}
	for k, n := range share {
		if n > size.accounts*roomsPerAccount || n >= limit {
			t.Fatalf("shard %d owns %d rooms: more than its accounts watch in full, or not below the limit of %d: change the seed", k, n, limit)
		}
	}
	cookies := testkit.SimCookieFiles(t, sim, shards*size.accounts+refAccounts)
	common := []string{"--api-base", sim.URL(), "--top", strconv.Itoa(size.rooms), "--rooms-per-account", strconv.Itoa(roomsPerAccount),
		"--refresh", size.refresh}
	newProc := func(k int, addr string, accounts []string) *shardProc {
		// A shard sends at most 3 requests a second, within its address's
		// budget; the reference, held to none, connects every room about
		// as fast as a shard its share.
		name, rate := fmt.Sprintf("shard-%d.db", k), "3"
		if k < 0 {
			name, rate = "reference.db", "20"
		}
		p := &shardProc{k: k, addr: addr, bin: bin, db: filepath.Join(r.dir, name), metrics: freeAddr(t),
			args: append(slices.Clone(common), "--http-rate", rate)}
		for _, c := range accounts {
			p.args = append(p.args, "--cookie-file", c)
		}
		return p
	}
	ref := newProc(-1, refAddr, cookies[shards*size.accounts:])
	procs := make([]*shardProc, shards)
	for k := range procs {
		procs[k] = newProc(k, shardAddr(k), cookies[k*size.accounts:(k+1)*size.accounts])
	}
	all := append([]*shardProc{ref}, procs...)
	for _, p := range all {
		p.start(t)
	}
	defer func() {
		for _, p := range all {
			_ = p.kill()
		}
	}()
	open := func(addr string) int64 { return sim.IPStats()[addr].Open }
	connected := func() bool {
		for k := range procs {
			if open(shardAddr(k)) != int64(share[k]) {
				return false
			}
		}
		return open(refAddr) == int64(size.rooms)
	}
	testkit.Poll(t, 90*time.Second, "every room connected, by its shard and by the reference", connected)
	joined(t, sim, size.rooms)
	if !connected() {
		t.Fatal("a connection ended before the kill")
	}
	// Every event generated after g0 was generated after the cut.
	r.cutMs = time.Now().UnixMilli()
	d0, g0 := sim.Truth().Rooms, sim.Generated()
	sum := func(m map[string]map[string]int64, k int) (n int64) {
		for id, kinds := range m {
			if r.owner[id] == k {
				n += kinds["danmaku"]
			}
		}
		return n
	}
	killed := procs[killedShard]
	testkit.Poll(t, 30*time.Second, "danmaku delivered to the shard to kill", func() bool {
		return sum(sim.Truth().Rooms, killedShard) >= sum(d0, killedShard)+20
	})
	r.killMs = time.Now().UnixMilli()
	if err := killed.kill(); err != nil {
		t.Fatal(err)
	}
	testkit.Poll(t, 30*time.Second, "its connections closed", func() bool { return open(shardAddr(killedShard)) == 0 })
	// Down for about two seconds of its rooms' danmaku (a restart is not
	// instant, and the simulator's HTTP budget for its address, which the
	// last run may have spent, refills meanwhile, as Bilibili's would).
	gapFrom := sum(sim.Generated(), killedShard)
	testkit.Poll(t, 30*time.Second, "danmaku generated in its rooms while it is down", func() bool {
		return sum(sim.Generated(), killedShard) >= gapFrom+int64(size.rate/4)
	})
	killed.start(t)
	if !testkit.Until(90*time.Second, func() bool { return open(shardAddr(killedShard)) == int64(share[killedShard]) }) {
		ip := sim.IPStats()[shardAddr(killedShard)]
		_ = killed.kill()
		t.Fatalf("its rooms did not connect again within 90s: %+v; %s", ip, killed.stderr.String())
	}
	joined(t, sim, size.rooms)
	r.backMs = time.Now().UnixMilli()
	again := sum(sim.Truth().Rooms, killedShard)
	testkit.Poll(t, 30*time.Second, "danmaku delivered to it again", func() bool { return sum(sim.Truth().Rooms, killedShard) >= again+20 })
	sim.StopTraffic()
	testkit.Poll(t, 60*time.Second, "the traffic's end", sim.Idle)
	r.truth = sim.Truth()
	// The shards that ran throughout have decoded what was delivered to
	// them before they are stopped (the killed one lost what the kernel
	// held at the kill: it is stopped once idle, and the drain at the stop
	// reads what is in flight); the reference at least what every room
	// generated after the cut.
	for k, p := range procs {
		if k != killedShard {
			p.decoded(t, sum(r.truth.Rooms, k))
		}
	}
	var after int64
	for id := range r.owner {
		after += r.truth.Generated[id]["danmaku"] - g0[id]["danmaku"]
	}
	ref.decoded(t, after)
	for _, p := range all {
		p.stop(t)
	}
	for _, p := range procs {
		r.files = append(r.files, p.db)
	}
	r.ref = ref.db
	// What the killed shard's connections missed after they joined counts
	// from the first event they got, or the cut: events generated before
	// the cut may still have been on their way at the kill.
	first := sim.FirstDelivered()
	from := map[string]map[string]int64{}
	for id, kinds := range first {
		from[id] = map[string]int64{}
		for kind, seq := range kinds {
			from[id][kind] = min(seq, g0[id][kind])
		}
	}
	r.missed = checkShards(t, r.files, r.truth, r.owner, limit,
		deliveries{from: g0, since: sim.DeliveredSince(g0)}, deliveries{from: from, since: sim.DeliveredSince(from)})
	checkReference(t, r.ref, r.truth, g0, r.owner)
	return r
}

// joined waits until every room has its listeners: auth counts a
// connection just before it joins its room, so once a few more frames
// have gone out than there are rooms, every room has them.
func joined(t *testing.T, sim *livesim.Sim, rooms int) {
	t.Helper()
	frames := sim.Stats().FramesWritten
	testkit.Poll(t, 30*time.Second, "frames written after the last connect", func() bool { return sim.Stats().FramesWritten > frames+int64(2*rooms) })
}

// checkReference checks the reference run's file: every room watched on
// one logged-in connection that got everything (not a sample), and every
// event generated after the cut (g0) stored.
func checkReference(t *testing.T, db string, truth livesim.Truth, g0 map[string]map[string]int64, owner map[string]int) {
	t.Helper()
	st := testkit.Summary(t, db)
	conns := map[string]storage.RoomConnections{}
	for _, c := range st.Connections {
		conns[strconv.FormatInt(c.RoomID, 10)] = c
	}
	for id := range owner {
		if c := conns[id]; c.Connections != 1 || c.Anonymous != 0 || c.Sampled != 0 {
			t.Errorf("the reference's room %s: %d connections (%d anonymous, %d sampled), want 1 logged in, not a sample", id, c.Connections, c.Anonymous, c.Sampled)
		}
		for _, kind := range livesim.TruthKinds {
			if made, stored := truth.Generated[id][kind]-g0[id][kind], st.Rooms[id].Kinds[kind]; stored < made {
				t.Errorf("the reference's room %s %s: stored %d, fewer than the %d generated after every room was connected", id, kind, stored, made)
			}
		}
	}
	if len(conns) != len(owner) {
		t.Errorf("the reference watched %d rooms, want the %d", len(conns), len(owner))
	}
}

// deliveries is what the simulator delivered of each room's events
// from a sequence number on, per room id and kind.
type deliveries struct {
	from, since map[string]map[string]int64
}

// checkShards checks the shards' files and the simulator's truth (see
// shardRun): cut is what was delivered of the events generated after the
// cut, joined of those generated after the killed shard's connections
// joined. It returns, per truth kind, what the killed shard's rooms
// generated after they joined and it never stored.
func checkShards(t *testing.T, files []string, truth livesim.Truth, owner map[string]int, limit int, cut, joined deliveries) (missed map[string]int64) {
	t.Helper()
	watched := map[string]int{}
	missed = map[string]int64{}
	var lost, gap, queued int64
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
				after := cut.since[id][kind]
				made := truth.Generated[id][kind] - cut.from[id][kind]
				switch {
				case k != killedShard && stored != delivered:
					t.Errorf("room %s %s (shard %d): stored %d, delivered %d", id, kind, k, stored, delivered)
				case k != killedShard && after != made:
					t.Errorf("room %s %s (shard %d): %d generated after every room was connected, %d delivered", id, kind, k, made, after)
				case k == killedShard && stored > delivered:
					t.Errorf("room %s %s of the killed shard: stored %d, more than the %d delivered", id, kind, stored, delivered)
				}
				if k == killedShard {
					never := truth.Generated[id][kind] - joined.from[id][kind] - joined.since[id][kind]
					lost += delivered - stored
					gap += made - after
					queued += never - (made - after)
					missed[kind] += delivered - stored + never
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
	t.Logf("the killed shard's rooms: %d events generated while it was down (the gap), %d delivered before the kill and not stored (in the kernel then), %d generated before the cut and never delivered (still queued at the kill)", gap, lost, queued)
	for ip, st := range truth.IPs {
		k := -1
		for s := 0; s < shards; s++ {
			if ip == shardAddr(s) {
				k = s
			}
		}
		switch {
		case ip == refAddr: // held to no limit
			t.Logf("%s (the reference): %d connections (peak %d), %d HTTP requests (%d listing)",
				ip, st.Connections, st.PeakConnections, st.HTTPRequests, st.Paths["/room/v1/Area/getListByAreaID"])
			continue
		case k < 0:
			t.Errorf("the simulator saw %s (%+v): not a shard's address", ip, st)
		case st.PeakConnections > int64(limit) || st.OverLimit > 0 || st.HTTP412 > 0:
			t.Errorf("shard %d's address %s went over its limits (%d connections): %+v", k, ip, limit, st)
		}
		t.Logf("%s: %d connections (peak %d, limit %d), %d HTTP requests (%d listing), %d answered 412",
			ip, st.Connections, st.PeakConnections, limit, st.HTTPRequests, st.Paths["/room/v1/Area/getListByAreaID"], st.HTTP412)
	}
	if _, ok := truth.IPs[refAddr]; !ok || len(truth.IPs) != shards+1 {
		t.Errorf("the simulator saw %d source addresses, want the %d shards' and the reference's", len(truth.IPs), shards)
	}
	return missed
}

// shardProc is one shard's collect process, or the reference's (k < 0:
// not sharded).
type shardProc struct {
	k                      int
	addr, bin, db, metrics string
	args                   []string
	cmd                    *exec.Cmd
	stderr                 bytes.Buffer
	waited                 bool
}

// name is the process as messages name it.
func (p *shardProc) name() string {
	if p.k < 0 {
		return "the reference"
	}
	return fmt.Sprintf("shard %d", p.k)
}

// start starts the process (again): the same flags every time.
func (p *shardProc) start(t *testing.T) {
	t.Helper()
	args := append([]string{"collect", "--db", p.db, "--source-addr", p.addr,
		"--flush-interval", "300ms", "--heartbeat", "1s", "--watchdog", "0",
		"--lock-wait", "10s", "--quiet", "--metrics-addr", p.metrics}, p.args...)
	if p.k >= 0 {
		args = append(args, "--shard", fmt.Sprintf("%d/%d", p.k, shards))
	}
	p.cmd = exec.Command(p.bin, args...)
	p.stderr.Reset()
	p.cmd.Stderr = &p.stderr
	p.waited = false
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill ends the process with SIGKILL (nothing when it has ended) and
// reports one that had ended before.
func (p *shardProc) kill() error {
	if p.cmd == nil || p.waited {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := p.cmd.Wait()
	p.waited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return fmt.Errorf("%s ended with %v before the kill: %s", p.name(), err, p.stderr.String())
	}
	return nil
}

// stop ends the process with SIGTERM and wants exit status 0.
func (p *shardProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	p.waited = true
	if err != nil {
		t.Fatalf("%s: %v: %s", p.name(), err, p.stderr.String())
	}
}

// decoded waits until the process has decoded at least n danmaku.
func (p *shardProc) decoded(t *testing.T, n int64) {
	t.Helper()
	testkit.Poll(t, 60*time.Second, fmt.Sprintf("%s to decode %d danmaku", p.name(), n), func() bool {
		m, err := testkit.FetchMetrics(p.metrics)
		return err == nil && testkit.MetricValue(m, "danmakud_events_total", "kind", "danmaku") >= float64(n)
	})
}
