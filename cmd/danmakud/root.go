package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/danmakud/danmakud/internal/buildinfo"
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
// runs.version records it (internal/buildinfo composes it).
var version = buildinfo.Version(buildVersion, buildCommit, debug.ReadBuildInfo)

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
	root.AddCommand(newMergeCmd())
	root.AddCommand(newLoginCmd())
	root.AddCommand(newExportCmd())
	root.AddCommand(newReparseCmd())
	root.AddCommand(newReportCmd())
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

// reportProfile prints a profile's write error on stderr: a diagnostic,
// not a failure of the command.
func reportProfile(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmakud: memprofile:", err)
	}
}
