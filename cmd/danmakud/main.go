// Command danmakud collects what happens in Bilibili live rooms into one
// SQLite file. See the README for the commands; each lives in its own file
// here with one constructor per cobra command. This package only parses
// flags, validates them, maps errors to exit codes and prints: the work is
// done by the packages it calls (daemon, export, storage, roomsource,
// protocol, internal/…).
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
