package main

import (
	"fmt"
	"io"
	"time"
)

// progress reports rows done on stderr (export, reparse): on a terminal
// one line redrawn at most every 200 ms; otherwise a line every `every`
// rows. Not safe for concurrent use (it is called from the one goroutine
// that does the work).
type progress struct {
	name  string // "export", "reparse"
	w     io.Writer
	tty   bool
	every int64
	off   bool
	table string
	n     int64
	start time.Time
	last  time.Time
	drawn bool
}

// newProgress starts a progress display; quiet, or every <= 0 off a
// terminal, turns it off.
func newProgress(name string, w io.Writer, tty, quiet bool, every int64) *progress {
	return &progress{name: name, w: w, tty: tty, every: every, off: quiet || (!tty && every <= 0), start: time.Now()}
}

// update records that n rows are done, the last of them from table.
func (p *progress) update(table string, n int64) {
	p.table, p.n = table, n
	if p.off {
		return
	}
	if p.tty {
		if p.n%1024 != 0 {
			return
		}
		if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
			p.last = now
			fmt.Fprintf(p.w, "\r%s: %d rows (%s), %.0f rows/s   ", p.name, p.n, p.table, p.rate(now))
			p.drawn = true
		}
		return
	}
	if p.n%p.every == 0 {
		fmt.Fprintf(p.w, "%s: %d rows (%s), %.0f rows/s\n", p.name, p.n, p.table, p.rate(time.Now()))
		p.drawn = true
	}
}

func (p *progress) rate(now time.Time) float64 {
	s := now.Sub(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.n) / s
}

// finish ends the progress display with a total line (when it drew
// anything, or on a terminal).
func (p *progress) finish(ok bool) {
	if p.off {
		return
	}
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	if ok && (p.tty || p.drawn) {
		now := time.Now()
		fmt.Fprintf(p.w, "%s: %d rows in %s (%.0f rows/s)\n", p.name, p.n, now.Sub(p.start).Round(time.Millisecond), p.rate(now))
	}
}
