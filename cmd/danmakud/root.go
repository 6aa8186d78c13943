package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes (documented in the README; cron and scripts rely on them).
const (
	exitOK       = 0 // finished normally (including a signalled stop)
	exitFailure  = 1 // a runtime failure: I/O, database, network setup
	exitUsage    = 2 // bad flags or arguments
	exitBadInput = 3 // decode: some input was undecodable (the rest was decoded)
	exitLocked   = 4 // collect: another collect holds the database
	// exitInterrupted: a second SIGINT/SIGTERM ended collect without the
	// final flush (128 + SIGINT, as shells report it).
	exitInterrupted = 130
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// buildVersion and buildCommit are stamped by `make build`
// (-ldflags "-X main.buildVersion=… -X main.buildCommit=…"); empty otherwise.
var buildVersion, buildCommit string

// version is this binary's version, as --version prints it and
// runs.version records it: see versionFrom.
var version = versionFrom(buildVersion, buildCommit, debug.ReadBuildInfo)

// versionFrom composes the version string: the stamped version, else the
// module version the Go toolchain recorded (a tag or pseudo-version from
// `go install …@version`; "(devel)" in a checkout counts as none), else
// "devel"; followed by " (commit C)" with the first 12 hex digits of the
// stamped or recorded VCS revision (and ", modified" when the recorded
// work tree had changes) unless the version already names the commit.
func versionFrom(ver, commit string, readBuildInfo func() (*debug.BuildInfo, bool)) string {
	modified := false
	if bi, ok := readBuildInfo(); ok && bi != nil {
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

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "danmakud",
		Short:         "Collect Bilibili live-room events into SQLite",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newDecodeCmd())
	root.AddCommand(newDemoCmd())
	root.AddCommand(newSimCmd())
	root.AddCommand(newSimLoadCmd())
	root.AddCommand(newCollectCmd())
	root.AddCommand(newStatsCmd())
	root.AddCommand(newLoginCmd())
	root.AddCommand(newExportCmd())
	root.AddCommand(newReparseCmd())
	return root
}

// run executes the CLI and maps errors to exit codes.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "danmakud:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "danmakud:", err)
	// cobra's own flag and argument errors are usage errors.
	return exitUsage
}

// startProfiles writes a CPU profile to cpuPath until the returned stop
// is called, and then an allocation profile (everything allocated since
// start, sampled) to memPath. An empty path profiles nothing of that kind.
func startProfiles(cpuPath, memPath string) (stop func(), err error) {
	stopCPU := func() {}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stopCPU = func() { pprof.StopCPUProfile(); f.Close() }
	}
	return func() {
		stopCPU()
		if memPath != "" {
			writeProfile(memPath, "allocs")
		}
	}, nil
}

// writeProfile writes the named runtime/pprof profile ("heap", "allocs")
// to path, after a GC so that it is current; errors go to stderr, as this
// is a diagnostic.
func writeProfile(path, name string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmakud: memprofile:", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "danmakud: memprofile:", err)
	}
}
