package daemon

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/danmakud/danmakud/export"
)

// dbFiles is where a run stores: one file, or — when Config.DB holds
// strftime fields (%Y %m %d %H %M %S, in Bilibili's time, UTC+8) — one
// file per period: a day for %d, an hour for %H, a minute for %M, or
// Tuning.RotateEvery.
type dbFiles struct {
	pattern string
	every   time.Duration // 0: one file
}

// zone is the time zone of the file names and period boundaries.
var zone = export.Zone

func parseDBFiles(pattern string, every time.Duration) (dbFiles, error) {
	f := dbFiles{pattern: pattern}
	if !strings.Contains(pattern, "%") {
		return f, nil
	}
	finest := time.Duration(0)
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '%' {
			continue
		}
		if i+1 == len(pattern) {
			return f, fmt.Errorf("--db %q: a lone %% at the end", pattern)
		}
		i++
		switch pattern[i] {
		case 'Y', 'm':
		case 'd':
			finest = minNonZero(finest, 24*time.Hour)
		case 'H':
			finest = minNonZero(finest, time.Hour)
		case 'M':
			finest = minNonZero(finest, time.Minute)
		case 'S':
			finest = minNonZero(finest, time.Second)
		case '%':
		default:
			return f, fmt.Errorf("--db %q: %%%c is not a field danmakud knows (%%Y %%m %%d %%H %%M %%S %%%%)", pattern, pattern[i])
		}
	}
	if finest == 0 {
		return f, fmt.Errorf("--db %q: a rotating name needs %%d (daily) or %%H (hourly)", pattern)
	}
	f.every = finest
	if every > 0 {
		f.every = every
	}
	if f.every < time.Minute && every == 0 {
		return f, fmt.Errorf("--db %q: files shorter than a minute are for tests", pattern)
	}
	return f, nil
}

func minNonZero(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// rotating reports whether the run moves from file to file.
func (f dbFiles) rotating() bool { return f.every > 0 }

// periodOf is the start of t's period (every period of a day starts at
// midnight UTC+8).
func (f dbFiles) periodOf(t time.Time) time.Time {
	if !f.rotating() {
		return time.Time{}
	}
	t = t.In(zone)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, zone)
	if f.every >= 24*time.Hour {
		return day
	}
	return day.Add(t.Sub(day).Truncate(f.every))
}

// path is the file of the period starting at p.
func (f dbFiles) path(p time.Time) string {
	if !f.rotating() {
		return f.pattern
	}
	p = p.In(zone)
	var b strings.Builder
	for i := 0; i < len(f.pattern); i++ {
		c := f.pattern[i]
		if c != '%' || i+1 == len(f.pattern) {
			b.WriteByte(c)
			continue
		}
		i++
		switch f.pattern[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", p.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(p.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", p.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", p.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", p.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", p.Second())
		case '%':
			b.WriteByte('%')
		}
	}
	return b.String()
}

// stem names what belongs to all of a pattern's files (the fields'
// letters in place of the fields): the database's path when it does
// not rotate.
func (f dbFiles) stem() string {
	return strings.NewReplacer("%%", "%", "%", "").Replace(f.pattern)
}

// journal is the frame journal's directory: one for all of a pattern's
// files.
func (f dbFiles) journal() string { return JournalDir(f.stem()) }

// existing lists the files of the pattern on disk (globbing each field).
func (f dbFiles) existing() ([]string, error) {
	if !f.rotating() {
		return []string{f.pattern}, nil
	}
	glob := strings.NewReplacer("%%", "%", "%Y", "[0-9][0-9][0-9][0-9]", "%m", "[0-9][0-9]", "%d", "[0-9][0-9]",
		"%H", "[0-9][0-9]", "%M", "[0-9][0-9]", "%S", "[0-9][0-9]").Replace(f.pattern)
	m, err := filepath.Glob(glob)
	if err != nil {
		return nil, errors.New("--db " + f.pattern + ": " + err.Error())
	}
	return m, nil
}
