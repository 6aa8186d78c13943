// Package collector is the supervisor: it reconciles the desired room set
// from roomsource into running room workers (one protocol reader and one
// heartbeat goroutine per room), restarts them with backoff, watches for
// starved connections, records coverage, and feeds one channel into the
// storage writer.
package collector
