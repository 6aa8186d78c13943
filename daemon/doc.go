// Package daemon is a danmakud collection run as a library: a Config says
// what to watch, with which logins, and where to store it; Run watches it
// until its context ends or Config.Duration has passed, then stops in
// order and returns what happened. `danmakud collect` and `danmakud demo`
// are thin clients of it, and a Go program can embed it the same way (see
// the package example).
//
// Shutdown order: discovery stops; then every room worker stops (each
// drains its connection); then the record channel is closed by its owner
// (Run); the writer makes its final flush within FinalFlushTimeout; the
// run's end is recorded; the database is closed.
//
// Errors carry a Kind (see KindOf) so that a command line can map them to
// exit codes without matching text.
package daemon
