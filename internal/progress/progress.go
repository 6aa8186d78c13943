// Package progress shows how far a job has got. A Meter follows a
// row-by-row job (export, reparse, merge): on a terminal one line redrawn
// at most five times a second, in a log a line every so many rows, and a
// total line at the end. StartLine redraws the status line of a job that
// runs until told to stop (collect) at a fixed interval.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"
)

// redraw is the least time between two redraws of the terminal line.
const redraw = 200 * time.Millisecond

// Meter reports rows done to w. Not safe for concurrent use: it is
// called from the one goroutine that does the work.
type Meter struct {
	name  string // the job's name, first on each line ("export")
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

// New starts a Meter for the job name. tty says w is a terminal; off a
// terminal a line is printed every `every` rows. quiet, or every <= 0
// off a terminal, turns the Meter off.
func New(name string, w io.Writer, tty, quiet bool, every int64) *Meter {
	return &Meter{name: name, w: w, tty: tty, every: every, off: quiet || (!tty && every <= 0), start: time.Now()}
}

// Update records that n rows are done, the last of them from table.
func (m *Meter) Update(table string, n int64) {
	m.table, m.n = table, n
	if m.off {
		return
	}
	if m.tty {
		if m.n%1024 != 0 {
			return
		}
		if now := time.Now(); now.Sub(m.last) >= redraw {
			m.last = now
			fmt.Fprintf(m.w, "\r%s: %d rows (%s), %.0f rows/s   ", m.name, m.n, m.table, m.rate(now))
			m.drawn = true
		}
		return
	}
	if m.n%m.every == 0 {
		fmt.Fprintf(m.w, "%s: %d rows (%s), %.0f rows/s\n", m.name, m.n, m.table, m.rate(time.Now()))
		m.drawn = true
	}
}

func (m *Meter) rate(now time.Time) float64 {
	s := now.Sub(m.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(m.n) / s
}

// Finish ends the display: it clears the terminal line, and when ok
// prints a total line (on a terminal, or when it printed anything).
func (m *Meter) Finish(ok bool) {
	if m.off {
		return
	}
	if m.tty && m.drawn {
		fmt.Fprint(m.w, "\r\033[K")
	}
	if ok && (m.tty || m.drawn) {
		now := time.Now()
		fmt.Fprintf(m.w, "%s: %d rows in %s (%.0f rows/s)\n", m.name, m.n, now.Sub(m.start).Round(time.Millisecond), m.rate(now))
	}
}

// IsTerminal reports whether w is a terminal, where a Meter or StartLine
// redraws one line in place: an *os.File on a character device. Anything
// else (a file, a pipe, a buffer) is a log, which gets whole lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
