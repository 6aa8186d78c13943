package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/danmakud/danmakud/export"
	"github.com/danmakud/danmakud/storage"
)

// bilibiliZone is Bilibili's time zone (China Standard Time, no DST),
// printed beside UTC.
var bilibiliZone = export.Zone

// stamp prints a unix-ms time in UTC and in Bilibili's UTC+8.
func stamp(ms int64) string {
	t := time.UnixMilli(ms)
	return t.UTC().Format("2006-01-02 15:04:05 MST") + " (" + t.In(bilibiliZone).Format("2006-01-02 15:04:05 MST") + ")"
}

// percent prints a coverage estimate, "n/a" for too few samples.
func percent(c *float64) string {
	if c == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100**c)
}

// interval prints a coverage estimate's 95 % interval, "-" when nothing
// was judged.
func interval(iv *[2]float64) string {
	if iv == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f–%.1f%%", 100*iv[0], 100*iv[1])
}

func seconds(s float64) string { return (time.Duration(s) * time.Second).String() }

// filesLabel names the files a summary read: the file, or how many and
// which (the first three of more than four).
func filesLabel(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	shown := paths
	more := ""
	if len(paths) > 4 {
		shown, more = paths[:3], fmt.Sprintf(", … %d more", len(paths)-3)
	}
	return fmt.Sprintf("%d files (%s%s)", len(paths), strings.Join(shown, ", "), more)
}

// WriteStats writes s, the summary of the database files at paths read
// as one, for people: the files (filesLabel), tables aligned, times in
// UTC and UTC+8, coverage per room and overall (`danmakud stats`; its
// --json prints every field instead).
func WriteStats(w io.Writer, paths []string, s *storage.Summary) {
	fmt.Fprintf(w, "%s: %d run(s)\n", filesLabel(paths), s.Runs)
	if s.FirstMs > 0 {
		fmt.Fprintf(w, "events received from %s\n                 to %s (%s)\n", stamp(s.FirstMs), stamp(s.LastMs),
			(time.Duration(s.LastMs-s.FirstMs) * time.Millisecond).Round(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\t")
	for _, t := range storage.Tables() {
		if n, ok := s.Rows[t.Name]; ok && t.Stats {
			fmt.Fprintf(tw, "%s\t%d\t\n", t.Name, n)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "rooms with connections: %d, reconnects: %d\n", s.RoomsSeen, s.Reconnects)
	fmt.Fprintf(w, "estimated coverage (share of the rooms' danmaku stored, from their history): %s overall (95%% interval %s)\n",
		percent(s.OverallCoverage), interval(s.OverallCoverageInterval))
	if len(s.Connections) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "room_id\tdanmaku\tcoverage\t95% interval\tconnections\tconnected\twanted\tshare\tsampled\tstarved\tstalled\tbad frames\t")
		for i, c := range s.Connections {
			if i == 20 {
				fmt.Fprintf(tw, "… %d more rooms (--json lists all)\t\t\t\t\t\t\t\t\t\t\t\t\n", len(s.Connections)-20)
				break
			}
			room := strconv.FormatInt(c.RoomID, 10)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%.1f%%\t%d\t%d\t%d\t%d\t\n", room, s.Rooms[room].Kinds["danmaku"],
				percent(c.Coverage), interval(c.CoverageInterval), c.Connections, seconds(c.Connected), seconds(c.Wanted), 100*c.ConnectedShare,
				c.Sampled, c.Starved, c.Stalled, c.BadFrames)
		}
		tw.Flush()
		fmt.Fprintf(w, "coverage: estimated share of the room's danmaku stored (history check); n/a below %d judged history danmaku (from then on known to ±%.2f), its 95%% interval from the first; share: connected time over wanted time (from the first round that listed the room to its last connection's end)\n",
			storage.MinCoverageSamples, storage.CoverageMargin)
	}
	if len(s.NotStored) > 0 {
		fmt.Fprint(w, "received and not stored (collect --kinds; counted, not in the tables):")
		for _, k := range export.KindNames() {
			if n := s.NotStored[k]; n > 0 {
				fmt.Fprintf(w, " %s×%d", k, n)
			}
		}
		fmt.Fprintln(w)
	}
	if len(s.Unknown) > 0 {
		fmt.Fprintf(w, "commands without a typed table (kept in unknown_commands with a sample):")
		for i, u := range s.Unknown {
			if i == 10 {
				fmt.Fprintf(w, " …")
				break
			}
			fmt.Fprintf(w, " %s×%d", u.Cmd, u.Count)
		}
		fmt.Fprintln(w)
	}
}
