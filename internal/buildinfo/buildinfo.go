// Package buildinfo composes the version string a danmakud binary
// reports (danmakud --version) and records with each run (runs.version),
// from what the build stamped into it and what the Go toolchain recorded.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Version composes the version string: stamped (set with -ldflags by
// `make build`), else the module version the Go toolchain recorded (a
// tag or pseudo-version from `go install …@version`; "(devel)" in a
// checkout counts as none), else "devel"; followed by " (commit C)" with
// the first 12 hex digits of the stamped commit or the recorded VCS
// revision (and ", modified" when the recorded work tree had changes)
// unless the version already names the commit. read is
// debug.ReadBuildInfo outside tests.
func Version(stamped, commit string, read func() (*debug.BuildInfo, bool)) string {
	ver, modified := stamped, false
	if bi, ok := read(); ok && bi != nil {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		if commit == "" {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if commit == "" {
		return ver
	}
	short := commit[:min(12, len(commit))]
	if strings.Contains(ver, short[:min(7, len(short))]) {
		return ver
	}
	if modified {
		return ver + " (commit " + short + ", modified)"
	}
	return ver + " (commit " + short + ")"
}
