package descriptors

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestExhausted(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "open", Path: "x", Err: syscall.EMFILE}, true},
		{fmt.Errorf("dial: %w", &os.SyscallError{Syscall: "socket", Err: syscall.ENFILE}), true},
		{&os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, false},
		{nil, false},
	} {
		if got := Exhausted(c.err); got != c.want {
			t.Errorf("Exhausted(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
