//go:build unix

package shutdown

import (
	"context"
	"syscall"
	"testing"
)

func TestTwoSignals(t *testing.T) {
	soft, hard, stop := Contexts(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-soft.Done()
	if hard.Err() != nil {
		t.Fatal("the first signal ended hard too")
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-hard.Done()
}

func TestParentAndStop(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	soft, hard, stop := Contexts(parent)
	cancel()
	<-soft.Done()
	if hard.Err() != nil {
		t.Fatal("the parent's end reached hard")
	}
	stop()
	if hard.Err() == nil {
		t.Fatal("stop left hard running")
	}
}
