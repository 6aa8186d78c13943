package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/daemon"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

// TestKill9 kills collect (the built binary) with SIGKILL at random
// moments while traffic flows, 5 times (soak: 50 during a 200-room run at
// 20,000 messages/s), all on one database, the journal kept
// (--journal-keep). Before each kill the process is frozen (SIGSTOP),
// the simulator's ledger of what it wrote to each connection is taken,
// and then the kernel's socket queues (/proc/net/tcp: what the server
// had sent and the process had not read). Then:
//   - every frame the process had read is in the journal: a connection's
//     frames missing from it are only its last ones, and they were still
//     in the kernel at the kill — but for one frame a connection at most,
//     which may have been between its read and its journal write (a
//     reader reads the next frame only once this one is journaled);
//   - a run without a kill then stores everything the journal holds: the
//     stored danmaku equal the distinct danmaku of every journaled frame;
//   - after each kill the file passes integrity_check.
//
// It logs how many frames were in the kernel and in that window.
func TestKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := builtBinary(t)
	kills, rooms, rate := 5, 50, 2000.0
	if testkit.Soak() {
		kills, rooms, rate = 50, 200, 20000
	}
	sim, err := livesim.New(livesim.Options{Rooms: rooms, Rate: rate, Tick: 50 * time.Millisecond, Seed: 5,
		Ledger: true, HTTPRate: 10000, HTTPBurst: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "kill.db")
	// At each kill, per connection alive then: the frames the simulator
	// had written to it, and the bytes the kernel still held for it.
	type atKill struct {
		frames   []livesim.LedgerFrame
		inKernel int64
		room     int64
	}
	var checks []atKill
	seen := 0 // ledger entries of earlier runs (a client port may be reused)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= kills; i++ {
		opened := sim.Stats().AuthOK
		cmd, stderr := collectCmd(t, bin, sim.URL(), db, "--top", strconv.Itoa(rooms), "--journal-keep", "--http-rate", "1000")
		// First connects are spread over 10 s: kill once a fifth are up.
		testkit.Poll(t, 60*time.Second, "a fifth of the rooms connected", func() bool { return sim.Stats().AuthOK-opened >= int64(rooms/5) })
		// The fault: a kill at a random moment of the traffic.
		time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// The ledger first: a frame written after it only adds to what the
		// kernel holds at the next step.
		ledger := sim.Ledger()
		queued, err := socketQueues()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ledger[seen:] {
			if n, alive := queued[c.Remote]; alive && !c.TCP && len(c.Frames) > 1 {
				checks = append(checks, atKill{frames: c.Frames[1:], inKernel: n, room: c.Room}) // [0]: the auth reply, read by the handshake
			}
		}
		seen = len(ledger)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: collect ended with %v before the kill: %s", i, err, stderr)
		}
		if f := testkit.ReadFacts(t, db); f.Integrity != "ok" {
			t.Fatalf("kill %d: integrity_check: %s", i, f.Integrity)
		}
	}
	journaled, err := journalFrames(daemon.JournalDir(db))
	if err != nil {
		t.Fatal(err)
	}
	// A connection's frames missing from the journal must be its last
	// ones: the first of them may have been between its read and its
	// journal write (at most one frame per connection: a reader reads
	// the next only once this one is journaled); the rest must fit in
	// what the kernel still held.
	var frames, inKernelFrames, reading int
	var inKernelBytes int64
	for _, c := range checks {
		sent := c.frames
		frames += len(sent)
		last := -1
		for k, f := range sent {
			if journaled[f.Sum] > 0 {
				last = k
			}
		}
		for k := range sent[:last+1] {
			if journaled[sent[k].Sum] == 0 {
				t.Errorf("room %d: frame %d of %d is missing from the journal, with later ones in it", c.room, k+1, len(sent))
			}
		}
		var missing []int64
		for _, f := range sent[last+1:] {
			missing = append(missing, int64(f.Len+wsHeaderLen(f.Len)))
		}
		var total int64
		for _, b := range missing {
			total += b
		}
		switch {
		case total <= c.inKernel: // all still in the kernel
			inKernelFrames += len(missing)
			inKernelBytes += total
		case total-missing[0] <= c.inKernel: // the first being read or journaled, the rest in the kernel
			reading++
			inKernelFrames += len(missing) - 1
			inKernelBytes += total - missing[0]
		default:
			t.Errorf("room %d: %d frames (%d bytes) not journaled, but the kernel held only %d bytes at the kill",
				c.room, len(missing), total, c.inKernel)
		}
	}
	if len(checks) < kills*rooms/5 {
		t.Errorf("%d connections checked across %d kills of %d rooms", len(checks), kills, rooms)
	}
	// A run without a kill stores what the killed runs journaled.
	cmd, stderr := collectCmd(t, bin, sim.URL(), db, "--top", strconv.Itoa(rooms), "--journal-keep", "--duration", "3s")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the run after the kills: %v: %s", err, stderr)
	}
	want, err := journaledDanmaku(daemon.JournalDir(db))
	if err != nil {
		t.Fatal(err)
	}
	f := testkit.ReadFacts(t, db)
	t.Logf("%d kills, %d connections alive at them (%d rooms): %d frames written to them after their auth replies; not journaled: %d still in kernel socket buffers at the kills (%d bytes), %d between their read and their journal write; %d distinct danmaku journaled, %d stored",
		kills, len(checks), rooms, frames, inKernelFrames, inKernelBytes, reading, want, f.Danmaku)
	if f.Danmaku != want {
		t.Errorf("%d danmaku stored, %d in the journal's frames", f.Danmaku, want)
	}
}

// wsHeaderLen is the WebSocket frame header a server (unmasked) puts
// before a payload of n bytes.
func wsHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 65535:
		return 4
	}
	return 10
}

// socketQueues reads /proc/net/tcp and tcp6 and returns, per client
// address of a loopback connection, the bytes the kernel holds on its way
// to the client: the client socket's receive queue plus the server
// socket's send queue.
func socketQueues() (map[string]int64, error) {
	type sock struct {
		local, remote netip.AddrPort
		tx, rx        int64
	}
	var socks []sock
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 5 {
				continue
			}
			l, err1 := procAddr(fs[1])
			r, err2 := procAddr(fs[2])
			q := strings.Split(fs[4], ":")
			if err1 != nil || err2 != nil || len(q) != 2 {
				continue
			}
			tx, _ := strconv.ParseInt(q[0], 16, 64)
			rx, _ := strconv.ParseInt(q[1], 16, 64)
			socks = append(socks, sock{l, r, tx, rx})
		}
		fh.Close()
	}
	out := map[string]int64{}
	for _, s := range socks {
		// The client side: its receive queue. The server side (its remote
		// is the client): its send queue.
		out[s.local.String()] += s.rx
		out[s.remote.String()] += s.tx
	}
	return out, nil
}

// procAddr parses /proc/net/tcp's "0100007F:1F90" (IPv4, little-endian
// words; IPv6 likewise, four words).
func procAddr(s string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	b, err := hex.DecodeString(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	for i := 0; i+4 <= len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:]))
	}
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

// journalFrames counts the journal's frames by their SHA-256.
func journalFrames(dir string) (map[[sha256.Size]byte]int, error) {
	out := map[[sha256.Size]byte]int{}
	err := journal.Scan(dir, func(r *journal.Record) error {
		if r.Kind == journal.KindFrame {
			out[sha256.Sum256(r.Data)]++
		}
		return nil
	})
	return out, err
}

// journaledDanmaku is the number of distinct danmaku (by room and dedup
// key) in the journal's frames.
func journaledDanmaku(dir string) (int64, error) {
	seen := map[string]bool{}
	var fd protocol.FrameDecoder
	err := journal.Scan(dir, func(r *journal.Record) error {
		if r.Kind != journal.KindFrame {
			return nil
		}
		evs, _ := fd.DecodeMessage(nil, r.Data, r.Room)
		for _, e := range evs {
			if d, ok := e.(*protocol.Danmaku); ok {
				seen[strconv.FormatInt(r.Room, 10)+"/"+storage.DanmakuKey(d)] = true
			}
		}
		return nil
	})
	return int64(len(seen)), err
}
