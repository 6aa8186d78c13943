package progress

import (
	"context"
	"fmt"
	"io"
	"time"
)

// StartLine shows a running job's status on a terminal: every interval
// it redraws one line on w ("\r" and what line returns for the tick's
// time), from a goroutine of its own, until ctx ends or stop is called;
// then it ends the line with a newline, so that what is printed next
// starts on a line of its own. line runs on that goroutine only.
//
// stop returns once the goroutine has exited (nothing is written to w
// after it); it may be called more than once, also after ctx ended.
func StartLine(ctx context.Context, w io.Writer, interval time.Duration, line func(now time.Time) string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprintln(w)
				return
			case now := <-t.C:
				fmt.Fprint(w, "\r"+line(now))
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
