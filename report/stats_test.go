package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danmakud/danmakud/storage"
)

// TestWriteStats: times in UTC and UTC+8, the registry's tables that
// the file has, with their rows, coverage per room (n/a below the sample floor)
// with its interval, and overall, and the room table's columns aligned.
func TestWriteStats(t *testing.T) {
	cov := 0.9333
	all := 0.8
	iv := [2]float64{0.9012, 0.9601}
	s := &storage.Summary{Runs: 1, FirstMs: 1758000000000, LastMs: 1758003600000,
		Rows:            map[string]int64{"danmaku": 1234, "red_pockets": 2},
		Rooms:           map[string]storage.RoomStats{"21452505": {Kinds: map[string]int64{"danmaku": 1234}, Coverage: &cov}},
		Coverage:        map[string]*float64{"21452505": &cov, "7": nil},
		OverallCoverage: &all, OverallCoverageInterval: &[2]float64{0.75, 0.85},
		Connections: []storage.RoomConnections{
			{RoomID: 7, Connections: 1, Connected: 10, Wanted: 20, ConnectedShare: 0.5},
			{RoomID: 21452505, Connections: 3, Reconnects: 2, Connected: 3600, Wanted: 3600, ConnectedShare: 1, Coverage: &cov,
				CoverageInterval: &iv, Stalled: 1},
		}}
	var b bytes.Buffer
	WriteStats(&b, []string{"x.db"}, s)
	out := b.String()
	for _, want := range []string{"2025-09-16 05:20:00 UTC (2025-09-16 13:20:00 UTC+8)", "(1h0m0s)", "93.3%", "80.0% overall (95% interval 75.0–85.0%)", "red_pockets", "n/a", "n/a below 97 judged"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "raw_messages") {
		t.Errorf("a table the file lacks (older schema) was printed:\n%s", out)
	}
	var header, row string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "room_id") {
			header = l
		}
		if strings.Contains(l, "21452505") {
			row = l
		}
	}
	// Right-aligned columns: every column of the row ends where its
	// header does (tabwriter counts characters, as a terminal shows them).
	if header == "" || row == "" || utf8.RuneCountInString(header) != utf8.RuneCountInString(row) || !strings.HasSuffix(header, "bad frames") {
		t.Errorf("room table not aligned:\n%s\n%s", header, row)
	}
	if !strings.Contains(row, "1234") || !strings.Contains(row, "100.0%") || !strings.Contains(row, "93.3%    90.1–96.0%") {
		t.Errorf("room row %q", row)
	}
}

// TestFilesLabel: one file by its name, up to four listed, more
// shortened to the first three and how many else.
func TestFilesLabel(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"a.db"}, "a.db"},
		{[]string{"a.db", "b.db"}, "2 files (a.db, b.db)"},
		{[]string{"a", "b", "c", "d"}, "4 files (a, b, c, d)"},
		{[]string{"a", "b", "c", "d", "e", "f"}, "6 files (a, b, c, … 3 more)"},
	} {
		if got := filesLabel(tc.paths); got != tc.want {
			t.Errorf("filesLabel(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}
