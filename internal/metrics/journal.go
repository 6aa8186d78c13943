package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// journalMetrics are what the frame journal reports (journal.Observer):
// what the readers journaled, what was dropped, and what waits on disk.
type journalMetrics struct {
	records, bytes prometheus.Counter
	dropped        *prometheus.CounterVec
	backlogFn      atomic.Pointer[func() int64]
}

func (j *journalMetrics) register(f factory) {
	j.records = f.counter("danmakud_journal_records_total", "Frames (and connection marks) the readers wrote to the frame journal.")
	j.bytes = f.counter("danmakud_journal_bytes_total", "Bytes written to the frame journal, record headers included.")
	j.dropped = f.counterVec("danmakud_journal_dropped_total", "Frames the journal dropped instead of making a reader wait, by reason: full (past --journal-max), behind (the disk too slow and the memory bound reached), write failed, closed.", "reason")
	f.gaugeFunc("danmakud_journal_backlog_bytes", "Bytes of journal segments on disk not yet stored in the database (and released).", func() float64 {
		if fn := j.backlogFn.Load(); fn != nil {
			return float64((*fn)())
		}
		return 0
	})
}

func (j *journalMetrics) totals(t *Totals) {
	t.JournalRecords = sum(j.records, nil)
	t.JournalDropped = sum(j.dropped, nil)
}

// JournalWritten counts records and bytes written to the journal.
func (m *Metrics) JournalWritten(records int, bytes int64) {
	if m != nil {
		m.journal.records.Add(float64(records))
		m.journal.bytes.Add(float64(bytes))
	}
}

// JournalDropped counts records the journal dropped, by reason.
func (m *Metrics) JournalDropped(records int, _ int64, reason string) {
	if m != nil {
		m.journal.dropped.WithLabelValues(reason).Add(float64(records))
	}
}

// SetJournalBacklog installs the function danmakud_journal_backlog_bytes
// reads at each scrape.
// fn must not block or take a lock (see factory.gaugeFunc).
func (m *Metrics) SetJournalBacklog(fn func() int64) {
	if m != nil && fn != nil {
		m.journal.backlogFn.Store(&fn)
	}
}
