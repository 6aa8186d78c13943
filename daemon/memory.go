package daemon

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// The memory a run may use is one figure, Config.MemoryLimit, meant as
// the process's resident memory: the Go runtime's soft limit (GOMEMLIMIT)
// is set to it less a reserve for what the runtime does not count (the
// program's resident code, SQLite's own allocations), and every backlog
// the process holds in memory is a share of it. What cannot be held waits
// in the frame journal on disk, not on the heap.
const (
	// defaultMemoryShare: with no MemoryLimit, a quarter of the machine's
	// memory (of the cgroup's limit, when one is set: three quarters).
	defaultMemoryShare = 4
	// minMemoryLimit is the least a run is given.
	minMemoryLimit = 64 << 20
	// journalPendingShare: records waiting for the journal's writer (only
	// while the disk stalls) may take 1/8 of the limit, at most 64 MiB.
	journalPendingShare = 8
	journalPendingMax   = 64 << 20
	// writerShare: decoded records the writer holds (its batch and the
	// one being committed) may take 1/16 of the limit, at most 64 MiB;
	// recordBytes is what one held record costs the heap, garbage
	// included (measured at 10,000 rooms: ~2–3 KB).
	writerShare    = 16
	writerMaxBytes = 64 << 20
	recordBytes    = 2 << 10
	// outsideFixed and outsideShare: the part of the limit the Go
	// runtime is not given. outsideFixed is what it does not count, the
	// program's resident code and data (measured: RSS 14 MiB above the
	// runtime's own figure at 5,000 rooms); 1/outsideShare of the limit
	// is for the runtime's overshoot of a soft limit under a burst. With
	// the runtime given all of 200 MiB at 5,000 rooms the peak RSS was
	// 218 MiB; with a tenth (at least 16 MiB) kept, 198–209 MiB.
	outsideFixed = 16 << 20
	outsideShare = 20
)

// memoryBudget is the limit and the backlog bounds derived from it.
type memoryBudget struct {
	limit          int64 // bytes; the run's resident memory
	runtime        int64 // bytes; the Go runtime's soft limit (limit less the reserve)
	journalPending int64 // bytes (journal.Options.PendingMax)
	writerRecords  int   // records (storage.WriterOptions.PendingMax)
}

// memoryBudgetFor derives the bounds from a limit (0: the default share of the
// machine).
func memoryBudgetFor(limit int64) memoryBudget {
	if limit <= 0 {
		limit = defaultMemoryLimit()
	}
	limit = max(limit, minMemoryLimit)
	return memoryBudget{
		limit:          limit,
		runtime:        limit - outsideFixed - limit/outsideShare,
		journalPending: min(limit/journalPendingShare, journalPendingMax),
		writerRecords:  int(min(limit/writerShare, writerMaxBytes) / recordBytes),
	}
}

// apply sets the runtime's soft memory limit, unless GOMEMLIMIT in the
// environment already set one (the operator's word wins).
func (b memoryBudget) apply() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.runtime)
	}
}

// defaultMemoryLimit is a quarter of the machine's memory, or three
// quarters of the cgroup's limit when that is lower.
func defaultMemoryLimit() int64 {
	var si syscall.Sysinfo_t
	total := int64(1 << 30)
	if syscall.Sysinfo(&si) == nil {
		total = int64(si.Totalram) * int64(si.Unit)
	}
	limit := total / defaultMemoryShare
	if cg := cgroupMemoryMax(); cg > 0 && cg*3/4 < limit {
		limit = cg * 3 / 4
	}
	return limit
}

// cgroupMemoryMax is the cgroup v2 (or v1) memory limit of this process,
// 0 when none is set.
func cgroupMemoryMax() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && v > 0 && v < 1<<60 {
			return v
		}
	}
	return 0
}
