//go:build race

package main

// raceEnabled: the tests run with -race, so the binary they build is
// built with it too (it then reuses the race-compiled packages).
const raceEnabled = true
