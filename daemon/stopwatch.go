package daemon

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// stopGrace is how much longer than the final flush timeout a stop may
// take before the run's goroutines are written out: the readers drain
// in seconds and the final flush is bounded, so a stop past both is
// stuck, and the dump says where.
const stopGrace = time.Minute

// watchStop arms, once runCtx has ended, a timer of after (collect:
// FinalFlushTimeout + stopGrace); if the run has not returned by then
// (the returned func not called), every goroutine's stack is written to a
// file beside the database (stuckDumpPath) and the log says where. The
// returned func disarms it; it must be called when the run returns.
func (d *Daemon) watchStop(runCtx context.Context, after time.Duration) (done func()) {
	finished := make(chan struct{})
	go func() {
		select {
		case <-runCtx.Done():
		case <-finished:
			return
		}
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-t.C:
		case <-finished:
			return
		}
		path := stuckDumpPath(d.files.stem(), time.Now())
		if err := writeGoroutines(path); err != nil {
			d.cfg.Logger.Error("collect has not stopped and its goroutines could not be written", "after", after, "err", err)
			return
		}
		d.cfg.Logger.Error("collect has not stopped; every goroutine's stack is in the file named here (please send it with a bug report)",
			"after", after, "file", path)
	}()
	return func() { close(finished) }
}

// stuckDumpPath is where a stuck stop's goroutines go: beside the
// database (stem: dbFiles.stem).
func stuckDumpPath(stem string, now time.Time) string {
	return fmt.Sprintf("%s.stuck-%s.txt", stem, now.UTC().Format("20060102T150405Z"))
}

// writeGoroutines writes every goroutine's stack to path.
func writeGoroutines(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("goroutine").WriteTo(f, 2); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
