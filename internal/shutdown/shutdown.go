// Package shutdown turns SIGINT and SIGTERM into a two-stage stop: the
// first signal asks for an orderly stop (drain, final flush), a second
// one gives that up.
package shutdown

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Contexts returns soft, cancelled by the first SIGINT or SIGTERM (or
// when parent ends), and hard, cancelled by a second signal: stop at once,
// without the final flush. hard does not follow parent. While they are
// in use the process is not ended by those signals. stop releases the
// signal handler and cancels both; call it once, when the work is done.
func Contexts(parent context.Context) (soft, hard context.Context, stop func()) {
	soft, cancel := context.WithCancel(parent)
	hard, cancelHard := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ch:
		case <-soft.Done():
			return
		}
		cancel()
		if _, ok := <-ch; ok {
			cancelHard()
		}
	}()
	return soft, hard, func() { signal.Stop(ch); close(ch); cancel(); <-done; cancelHard() }
}
