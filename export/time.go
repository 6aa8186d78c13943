package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Zone is Bilibili's time zone, China Standard Time (UTC+8, no daylight
// saving time): the zone of its "day", of ParseTime's local forms and of
// XML's file names and start_time.
var Zone = time.FixedZone("UTC+8", 8*3600)

// localLayouts are the local-time forms ParseTime accepts, read in Zone.
var localLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a time as unix milliseconds, for ExportFilter's
// SinceMs and UntilMs: RFC 3339 ("2026-11-27T20:00:00+08:00"), a local
// form ("2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02
// 15:04", "2006-01-02") read in Zone, or digits (unix milliseconds,
// > 0). "" (or spaces) is 0, unbounded. The error quotes s and says what
// is accepted.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("bad time %q: unix milliseconds must be > 0", s)
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, Zone); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("bad time %q: want RFC 3339, '2006-01-02 15:04:05' (UTC+8) or unix milliseconds", s)
}
