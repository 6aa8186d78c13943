package daemon

import (
	"fmt"
	"syscall"

	"github.com/danmakud/danmakud/roomsource"
)

// Descriptors a run needs besides one socket per room: fdsFixed for the
// standard streams, the database (file, -wal, -shm, the lock, SQLite's
// temporary files, the read-only connections of the status page), the
// journal (its directory, the segment written and the one read), the
// metrics listener and its scrapes, the resolver, the runtime's poller,
// and slack; and the HTTP connections to Bilibili, which the client
// bounds (roomsource.MaxHTTPConns). At 30,000 rooms a reserve of 64 with
// the HTTP connections unbounded let coverage checks take the last
// descriptors and the journal could not open its next segment.
const (
	fdsFixed       = 64
	fdsBesideRooms = fdsFixed + roomsource.MaxHTTPConns
)

// fdBudget is what the descriptor limit allows.
type fdBudget struct {
	limit uint64 // RLIMIT_NOFILE (soft, after raising it to the hard one)
	rooms int    // rooms that fit
}

// descriptorBudget raises the soft RLIMIT_NOFILE to the hard one (Go
// does so at start on most systems; this makes it sure) and returns how
// many rooms fit: one socket each, fdsBesideRooms for the rest.
func descriptorBudget() (fdBudget, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fdBudget{}, err
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	return fdBudgetFor(rl.Cur), nil
}

func fdBudgetFor(limit uint64) fdBudget {
	b := fdBudget{limit: limit}
	if limit > fdsBesideRooms {
		b.rooms = int(min(limit-fdsBesideRooms, 1<<30))
	}
	return b
}

// fdAdvice is the one message a run whose rooms do not fit gives.
func (b fdBudget) advice(wanted int) string {
	return fmt.Sprintf("the open-file limit (%d) fits %d of the %d wanted rooms: watching the %d top-ranked (the rest are counted as not watched); "+
		"raise it with `ulimit -n %d` (and `ulimit -Hn` as root) or LimitNOFILE=%d in the systemd unit",
		b.limit, b.rooms, wanted, b.rooms, wanted+fdsBesideRooms, wanted+fdsBesideRooms)
}
