package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReportCommand: report writes one HTML file from one or several
// databases (--db and arguments), and names the file that is missing or
// cannot be written.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	exportFixture(t, a, 50)
	exportFixture(t, b, 50)
	out := filepath.Join(dir, "r.html")
	if code, _, errs := runCLI(t, "", "report", "--db", a, b, "-o", out); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * statsJSON(t, a).Rows["danmaku"]
	if !strings.Contains(string(html), `data-stat="rows.danmaku">`+strconv.FormatInt(want, 10)+`<`) {
		t.Errorf("the report of two files does not say %d danmaku", want)
	}
	code, _, errs := runCLI(t, "", "report", "--db", filepath.Join(dir, "missing.db"), "-o", filepath.Join(dir, "x.html"))
	if code != exitFailure || !strings.Contains(errs, "missing.db") {
		t.Errorf("a missing database: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); !os.IsNotExist(err) {
		t.Errorf("a failed report left its file: %v", err)
	}
	code, _, errs = runCLI(t, "", "report", "--db", a, "-o", filepath.Join(dir, "no", "such", "dir", "r.html"))
	if code != exitFailure || !strings.Contains(errs, "-o") {
		t.Errorf("an unwritable output: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI(t, "", "collect", "--db", filepath.Join(dir, "c.db"), "--pprof", "--anonymous", "--api-base", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(errs, "--pprof needs --metrics-addr") {
		t.Errorf("--pprof without --metrics-addr: exit %d, %q", code, errs)
	}
}
