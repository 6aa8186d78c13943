package daemon_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testkit"
)

// Slow-disk limits for the fault soak's database: about a slow SD card
// (a laptop disk does ~100 write IOPS). Enough on average for the soak's
// write rate, slow per commit: every fsync waits behind the throttle.
const (
	slowDiskWriteIOPS = 200
	slowDiskWriteBPS  = 8 << 20
)

// TestFaultSoakBusyMachineSlowDisk is the fault soak (faultSoak: every
// simulator fault, logged in, stored = truth, no false recycle; a longer
// heartbeat than the tests' 500 ms, so that a starved second is not taken
// for a stall) with two
// busy loops beside it (`sh -c 'while :; do :; done'`, one per core here)
// and the database on a throttled device: an ext4 loop device whose
// writes are limited to slowDiskWriteIOPS and slowDiskWriteBPS by the
// blkio cgroup. It needs root, a loop device and
// the cgroup-v1 blkio controller; elsewhere it skips saying which is
// missing. DANMAKUD_SOAK=1: 500 rooms, 10 minutes.
func TestFaultSoakBusyMachineSlowDisk(t *testing.T) {
	dir := slowDisk(t)
	for i := 0; i < 2; i++ {
		busy := exec.Command("sh", "-c", "while :; do :; done")
		busy.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // also when the test is killed
		if err := busy.Start(); err != nil {
			t.Fatalf("busy loop: %v", err)
		}
		t.Cleanup(func() { busy.Process.Kill(); busy.Wait() })
	}
	// A stall is two heartbeats of silence: 2 s here (the other tests
	// take 1 s), 10 s in the soak (60 s by default), where ten minutes
	// leave time for the simulator's stalls to be seen.
	heartbeat := time.Second
	if testkit.Soak() {
		heartbeat = 5 * time.Second
	}
	faultSoak(t, dir, heartbeat)
}

// slowDisk returns a directory on a fresh ext4 filesystem on a loop
// device whose writes from this process are throttled (see
// TestFaultSoakBusyMachineSlowDisk); cleanup lifts the limits, unmounts
// it and detaches the loop device.
func slowDisk(t *testing.T) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Skipf("slow-disk test: "+format+" (needs root, losetup, mkfs.ext4 and the cgroup-v1 blkio controller)", args...)
	}
	if os.Geteuid() != 0 {
		skip("not root")
	}
	blkio := "/sys/fs/cgroup/blkio"
	if _, err := os.Stat(filepath.Join(blkio, "cgroup.procs")); err != nil {
		skip("no blkio cgroup at %s", blkio)
	}
	for _, tool := range []string{"losetup", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip("no %s", tool)
		}
	}
	work := t.TempDir()
	img := filepath.Join(work, "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 1<<30); err != nil { // sparse
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		skip("losetup: %v: %s", err, strings.TrimSpace(string(out)))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	if out, err := exec.Command("mkfs.ext4", "-q", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v: %s", dev, err, out)
	}
	mnt := filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		skip("mount %s: %v", dev, err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, 0) })
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	majmin := fmt.Sprintf("%d:%d", (st.Rdev>>8)&0xfff, st.Rdev&0xff|(st.Rdev>>12)&0xfff00)
	// The limits go on the root cgroup, for this loop device only: page
	// cache writeback (most of SQLite's writes; the kernel's flusher
	// threads issue them, not this process) is throttled too.
	for file, v := range map[string]int{"blkio.throttle.write_iops_device": slowDiskWriteIOPS, "blkio.throttle.write_bps_device": slowDiskWriteBPS} {
		f := filepath.Join(blkio, file)
		if err := os.WriteFile(f, fmt.Appendf(nil, "%s %d\n", majmin, v), 0); err != nil {
			skip("%s: %v", f, err)
		}
		t.Cleanup(func() { os.WriteFile(f, fmt.Appendf(nil, "%s 0\n", majmin), 0) })
	}
	t.Cleanup(func() { // the writes that went through the throttle
		b, _ := os.ReadFile(filepath.Join(blkio, "blkio.throttle.io_serviced"))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, majmin+" Write") {
				t.Logf("throttled device: %s write requests", strings.Fields(l)[2])
			}
		}
	})
	t.Logf("database on %s (ext4 on %s, %s), writes limited to %d IOPS and %d MiB/s", mnt, dev, majmin, slowDiskWriteIOPS, slowDiskWriteBPS>>20)
	return mnt
}
