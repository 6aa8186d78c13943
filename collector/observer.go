package collector

// Observer is told what a Collector's workers do, for metrics. Its
// methods are called from every worker's goroutines at once: they must be
// safe for concurrent use and must not block. Config.Observer nil means
// nothing is told. Arguments never carry a cookie, token or error text.
type Observer interface {
	// SetDesired: a discovery round wants exactly these rooms. Rooms
	// outside the latest set are leaving; their workers may still report
	// while they drain.
	SetDesired(rooms []int64)
	// RoomConnected: room's connection authenticated (up) or ended (!up).
	RoomConnected(room int64, up bool)
	// SetRoomCoverage: room's estimated coverage, 0–1.
	SetRoomCoverage(room int64, ratio float64)
	// SetRoomSampled: whether room is known to receive a sample.
	SetRoomSampled(room int64, sampled bool)
	// RoomWaiting: +1 when a room starts waiting for an account slot
	// (Config.LoggedInOnly), -1 when it stops.
	RoomWaiting(delta int)
	// RoomsOverBudget: n wanted rooms are not watched because they do not
	// fit the process's descriptor budget (Config.MaxRooms).
	RoomsOverBudget(n int)

	// Event: one event of kind (a protocol.Kind) handed to the writer.
	Event(kind string)
	Frame()          // one WebSocket message received
	BadFrame()       // one message or command that could not be decoded
	Ack()            // one op-24 ack sent
	Resent()         // one command dropped: its msg_id was already received
	UnknownCommand() // one event of kind other (no typed table)

	// Session: one connection authenticated, anonymously or logged in.
	Session(anonymous bool)
	// Reconnect: one connection ended while its room was still wanted;
	// reason is its connections.end_reason, with "error" for every
	// error that has no name of its own.
	Reconnect(reason string)
	TokenReuse()      // one reconnect reused its still-valid token
	WatchdogRecycle() // one connection replaced for low coverage
	Stall()           // one connection dropped: the server went silent
	AuthRejected()    // one auth packet the server refused
	Upgrade()         // one anonymous connection replaced by a logged-in one
	Backpressure()    // one send that had to wait for the writer
}

// LoginObserver is told what a LoginWatch finds, for metrics. Its methods
// are called from the goroutine running Check or Run and must not block.
type LoginObserver interface {
	// SetAccounts: at the last check ok accounts were logged in and
	// lapsed were not.
	SetAccounts(ok, lapsed int)
	// LoginLapse: one account's login was found refused or lapsed
	// (reported once per change, not at every check).
	LoginLapse()
}

// nopObserver is the Observer and LoginObserver of a collector or login
// watch configured without one.
type nopObserver struct{}

func (nopObserver) SetDesired([]int64)             {}
func (nopObserver) RoomConnected(int64, bool)      {}
func (nopObserver) SetRoomCoverage(int64, float64) {}
func (nopObserver) SetRoomSampled(int64, bool)     {}
func (nopObserver) RoomWaiting(int)                {}
func (nopObserver) RoomsOverBudget(int)            {}
func (nopObserver) Event(string)                   {}
func (nopObserver) Frame()                         {}
func (nopObserver) BadFrame()                      {}
func (nopObserver) Ack()                           {}
func (nopObserver) Resent()                        {}
func (nopObserver) UnknownCommand()                {}
func (nopObserver) Session(bool)                   {}
func (nopObserver) Reconnect(string)               {}
func (nopObserver) TokenReuse()                    {}
func (nopObserver) WatchdogRecycle()               {}
func (nopObserver) Stall()                         {}
func (nopObserver) AuthRejected()                  {}
func (nopObserver) Upgrade()                       {}
func (nopObserver) Backpressure()                  {}
func (nopObserver) SetAccounts(int, int)           {}
func (nopObserver) LoginLapse()                    {}
