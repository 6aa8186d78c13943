package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writerMetrics are what storage's writer reports
// (storage.WriterObserver), plus its queue depth and the flush state
// that Health judges.
type writerMetrics struct {
	rows                   *prometheus.CounterVec
	updated, dups, records prometheus.Counter
	flushes, flushErrs     prometheus.Counter
	flushDuration          prometheus.Histogram
	pending, lastFlush     prometheus.Gauge
	queueFn                atomic.Pointer[func() int]

	mu      sync.Mutex
	failing int           // consecutive failed flushes
	flushed time.Time     // last successful flush
	started time.Time     // New
	stale   time.Duration // see SetFlushDeadline; 0 = never stale
}

func (w *writerMetrics) register(f factory) {
	w.started = time.Now()
	w.rows = f.counterVec("danmakud_rows_written_total", "Rows inserted and committed, by table (updates and ignored duplicates not counted).", "table")
	w.updated = f.counter("danmakud_rows_updated_total", "Rows updated and committed (a connection's end, a guard's toast, …).")
	w.dups = f.counter("danmakud_duplicates_ignored_total", "Records the schema's unique keys ignored as duplicates.")
	w.records = f.counter("danmakud_writer_records_total", "Records the writer received.")
	w.flushes = f.counter("danmakud_flushes_total", "Successful flushes (one transaction each).")
	w.flushErrs = f.counter("danmakud_flush_errors_total", "Failed flushes (the batch is kept and retried).")
	w.flushDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "danmakud_flush_duration_seconds",
		Help:    "Time a successful flush took, from routing the batch to the commit.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}) // 1 ms … 16 s
	f.reg.MustRegister(w.flushDuration)
	w.pending = f.gauge("danmakud_writer_pending_records", "Records the writer holds that are not committed yet.")
	w.lastFlush = f.gauge("danmakud_last_flush_timestamp_seconds", "Unix time of the last successful flush.")
	f.gaugeFunc("danmakud_writer_queue_depth", "Records waiting in the writer's input queue.", func() float64 {
		if fn := w.queueFn.Load(); fn != nil {
			return float64((*fn)())
		}
		return 0
	})
}

func (w *writerMetrics) totals(t *Totals) {
	t.Rows = sum(w.rows, nil)
	t.Updated = sum(w.updated, nil)
	t.Dups = sum(w.dups, nil)
	t.Records = sum(w.records, nil)
	t.Flushes = sum(w.flushes, nil)
	t.FlushErrors = sum(w.flushErrs, nil)
}

// flushState is what Health judges: consecutive failed flushes, the last
// successful one (zero: none yet), since when records may have waited
// (that flush, else New) and SetFlushDeadline's d.
func (w *writerMetrics) flushState() (failing int, flushed, since time.Time, stale time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	since = w.flushed
	if since.IsZero() {
		since = w.started
	}
	return w.failing, w.flushed, since, w.stale
}

// SetQueueDepth installs the function danmakud_writer_queue_depth reads
// at each scrape (e.g. the length of the writer's input channel).
// fn must not block or take a lock (see factory.gaugeFunc).
func (m *Metrics) SetQueueDepth(fn func() int) {
	if m != nil && fn != nil {
		m.writer.queueFn.Store(&fn)
	}
}

// SetFlushDeadline makes Health report the writer unhealthy when it
// holds records and has not flushed successfully for d (since New when
// it never has). 0, the default, never does.
func (m *Metrics) SetFlushDeadline(d time.Duration) {
	if m != nil {
		m.writer.mu.Lock()
		m.writer.stale = d
		m.writer.mu.Unlock()
	}
}

// WriterRecord counts one record received by the writer; pending is how
// many the writer now holds uncommitted.
func (m *Metrics) WriterRecord(pending int) {
	if m != nil {
		m.writer.records.Inc()
		m.writer.pending.Set(float64(pending))
	}
}

// Flushed records a successful flush that took took: rows inserted per
// table name, rows updated, duplicates ignored; pending is what the
// writer still holds afterwards.
func (m *Metrics) Flushed(took time.Duration, rows map[string]int64, updated, dups int64, pending int) {
	if m == nil {
		return
	}
	w := &m.writer
	for t, n := range rows {
		w.rows.WithLabelValues(t).Add(float64(n))
	}
	w.updated.Add(float64(updated))
	w.dups.Add(float64(dups))
	w.flushes.Inc()
	w.flushDuration.Observe(took.Seconds())
	w.pending.Set(float64(pending))
	now := time.Now()
	w.lastFlush.Set(float64(now.UnixNano()) / 1e9)
	w.mu.Lock()
	w.failing, w.flushed = 0, now
	w.mu.Unlock()
}

// FlushFailed records a failed flush (the writer keeps its batch).
func (m *Metrics) FlushFailed() {
	if m == nil {
		return
	}
	m.writer.flushErrs.Inc()
	m.writer.mu.Lock()
	m.writer.failing++
	m.writer.mu.Unlock()
}

// RowsWritten is how many rows were inserted into table so far: the one
// count of rows per table (danmakud_rows_written_total{table}).
func (m *Metrics) RowsWritten(table string) int64 {
	if m == nil {
		return 0
	}
	return sum(m.writer.rows, is("table", table))
}
