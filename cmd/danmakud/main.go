// Command danmakud collects what happens in Bilibili live rooms into one
// SQLite file. See the README for the commands; each lives in its own file
// here with one constructor per cobra command.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
