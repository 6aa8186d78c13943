// Package descriptors holds what the packages that open files and
// sockets share about running out of them.
package descriptors

import (
	"errors"
	"syscall"
)

// Exhausted reports whether err is the process or the system running out
// of file descriptors (EMFILE, ENFILE): a budget problem that waiting or
// fewer open files cures, not a fault of what was being opened.
func Exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
