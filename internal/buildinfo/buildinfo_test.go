package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	bi := func(ver string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			b := &debug.BuildInfo{Main: debug.Module{Path: "github.com/danmakud/danmakud", Version: ver}}
			for i := 0; i+1 < len(settings); i += 2 {
				b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return b, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	const rev = "0b1bd76c1234567890abcdef0b1bd76c12345678"
	cases := []struct {
		name, ver, commit string
		bi                func() (*debug.BuildInfo, bool)
		want              string
	}{
		{"make build on a tag", "v0.3.0", rev, bi("(devel)"), "v0.3.0 (commit 0b1bd76c1234)"},
		{"make build past a tag", "v0.3.0-2-g0b1bd76-dirty", rev, bi("(devel)"), "v0.3.0-2-g0b1bd76-dirty"},
		{"make build without tags", "0b1bd76", rev, none, "0b1bd76"},
		{"stamped wins over build info", "v1.0.0", "", bi("v0.9.0", "vcs.revision", rev), "v1.0.0 (commit 0b1bd76c1234)"},
		{"go install @tag", "", "", bi("v0.3.0"), "v0.3.0"},
		{"go install @latest pseudo-version", "", "", bi("v0.0.0-20261127104931-0b1bd76c1234"), "v0.0.0-20261127104931-0b1bd76c1234"},
		{"go build in a clone", "", "", bi("(devel)", "vcs", "git", "vcs.revision", rev, "vcs.modified", "true"), "devel (commit 0b1bd76c1234, modified)"},
		{"go build in a clean clone", "", "", bi("(devel)", "vcs.revision", rev, "vcs.modified", "false"), "devel (commit 0b1bd76c1234)"},
		{"nothing known", "", "", bi("(devel)"), "devel"},
		{"no build info", "", "", none, "devel"},
	}
	for _, c := range cases {
		if got := Version(c.ver, c.commit, c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
