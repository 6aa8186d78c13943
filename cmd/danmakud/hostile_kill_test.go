package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/storage"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// builtBinary builds danmakud once per test process into a temporary
// directory under $TMPDIR (left to the OS; ~40 MB), with -race when the
// tests run with it.
func builtBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "danmakud-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "danmakud")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

// totalDanmaku is the danmaku the simulator delivered to every room.
func totalDanmaku(sim *livesim.Sim) int64 {
	var n int64
	for _, kinds := range sim.Truth().Rooms {
		n += kinds["danmaku"]
	}
	return n
}

// freeAddr is a loopback address with a port that was free a moment ago,
// for a child process to listen on (--metrics-addr). Should another
// process take the port in between, the child fails at once with exit 2
// naming the flag.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// collectCmd starts the built binary's collect against sim on db.
func collectCmd(t *testing.T, bin, base, db string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"collect", "--db", db, "--api-base", base, "--top", "5", "--anonymous", "--quiet",
		"--flush-interval", "300ms", "--heartbeat", "1s", "--watchdog", "0", "--lock-wait", "10s"}, extra...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// TestSIGTERMAndSecondSIGINT: with the built binary, SIGTERM after the
// traffic stopped loses nothing (stored = the simulator's truth) and ends
// the run "ok"; a second SIGINT exits 130, the run row ended with its
// status, and the file closed cleanly (no -wal left, integrity ok).
func TestSIGTERMAndSecondSIGINT(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := builtBinary(t)
	sim, err := livesim.New(livesim.Options{Rooms: 3, Rate: 300, Tick: 20 * time.Millisecond, Seed: 6, TrafficFor: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "term.db")
	addr := freeAddr(t)
	cmd, stderr := collectCmd(t, bin, sim.URL(), db, "--top", "3", "--flush-interval", "1h", "--metrics-addr", addr)
	// SIGTERM once the traffic has ended and collect has decoded every
	// danmaku the simulator delivered (its /metrics says so): the final
	// flush must store them all.
	testkit.Poll(t, 30*time.Second, "the traffic's end, every delivered danmaku decoded", func() bool {
		if !sim.Idle() || totalDanmaku(sim) == 0 {
			return false
		}
		m, err := testkit.FetchMetrics(addr)
		return err == nil && testkit.MetricValue(m, "danmakud_events_total", "kind", "danmaku") >= float64(totalDanmaku(sim))
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v: %s", err, stderr)
	}
	f := testkit.ReadFacts(t, db)
	if want := totalDanmaku(sim); f.Danmaku != want || f.Integrity != "ok" || f.Unended != 0 {
		t.Errorf("after SIGTERM: %+v, simulator delivered %d", f, want)
	}

	// A second SIGINT while the first shutdown drains.
	// Much traffic and no flush before the signal: the final flush has
	// work to do when the second signal comes.
	sim2, err := livesim.New(livesim.Options{Rooms: 3, Rate: 20000, Tick: 20 * time.Millisecond, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer sim2.Close()
	cmd, stderr = collectCmd(t, bin, sim2.URL(), db, "--top", "3", "--flush-interval", "1h")
	testkit.Poll(t, 30*time.Second, "traffic reaching collect", func() bool { return totalDanmaku(sim2) >= 8000 })
	// The first SIGINT starts the orderly stop, whose first step closes
	// the connections (the simulator sees them go); the final flush comes
	// after. Only then the second, which must cut the flush short: two
	// signals sent back to back can reach the process as one, and one
	// sent after the run has ended would meet the default handler.
	cmd.Process.Signal(syscall.SIGINT)
	testkit.Poll(t, 30*time.Second, "the first SIGINT closing the connections", func() bool { return sim2.Stats().ConnsOpen == 0 })
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("second SIGINT: %v, want exit %d: %s", err, exitInterrupted, stderr)
	}
	if _, err := os.Stat(db + "-wal"); err == nil {
		t.Error("a -wal file was left behind: the database was not closed")
	}
	f = testkit.ReadFacts(t, db)
	d, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var status string
	d.SQL.QueryRow("SELECT coalesce(exit_status, 'NULL') FROM runs ORDER BY id DESC LIMIT 1").Scan(&status)
	if f.Integrity != "ok" || f.Unended != 0 || f.Runs != 2 || status[:11] != "interrupted" {
		t.Errorf("after a second SIGINT: %+v, last status %q", f, status)
	}
	t.Logf("second SIGINT: exit 130, last run %q; stderr: %s", status, strconv.Quote(stderr.String()))
}
