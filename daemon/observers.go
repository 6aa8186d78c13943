package daemon

import (
	"github.com/danmakud/danmakud/collector"
	"github.com/danmakud/danmakud/internal/metrics"
	"github.com/danmakud/danmakud/journal"
	"github.com/danmakud/danmakud/roomsource"
	"github.com/danmakud/danmakud/storage"
)

// The run's one metrics handle is the observer of every part it wires
// together. The assertions live here, where all of them are imported:
// internal/metrics may not import collector or storage, whose in-package
// tests import internal/metrics.
var (
	_ roomsource.Observer     = (*metrics.Metrics)(nil)
	_ collector.Observer      = (*metrics.Metrics)(nil)
	_ collector.LoginObserver = (*metrics.Metrics)(nil)
	_ storage.WriterObserver  = (*metrics.Metrics)(nil)
	_ journal.Observer        = (*metrics.Metrics)(nil)
)
