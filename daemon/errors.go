package daemon

import "errors"

// Kind classifies why Run (or New) failed.
type Kind int

const (
	// Failure is a runtime failure: I/O, the database, the network.
	Failure Kind = iota
	// Usage is a configuration or input the caller can fix: a bad
	// setting, a room that does not exist, a file that is not a danmakud
	// database, an area with no live rooms.
	Usage
	// Locked: another collection holds the database (after LockWait).
	Locked
	// Interrupted: the hard-stop context ended the run without the final
	// flush.
	Interrupted
)

// Error is an error with its Kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err: the Kind of the first *Error in its
// chain, else Failure (nil is Failure too; check for nil first).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Failure
}

func usageErr(err error) error   { return &Error{Kind: Usage, Err: err} }
func failureErr(err error) error { return &Error{Kind: Failure, Err: err} }
