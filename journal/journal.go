package journal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Journal. Zero values mean the defaults.
type Options struct {
	// Dir holds the segment files (created, mode 0700). Required.
	Dir string
	// Run is the run id written into every segment this Journal starts.
	Run int64
	// SegmentSize: a new segment starts before one would pass it;
	// default 64 MiB.
	SegmentSize int64
	// MaxBytes bounds the journal on disk (segments not yet released);
	// past it new records are dropped. Default 32 GiB.
	MaxBytes int64
	// PendingMax bounds the bytes held in memory waiting for the writer
	// (only while the disk is slow); past it new records are dropped.
	// Default 64 MiB.
	PendingMax int64
	// StallAfter: a write taking longer than this makes the journal
	// stalled, and Append stops waiting for the writer until it recovers.
	// Default 20 ms.
	StallAfter time.Duration
	// NoWait makes Append return as soon as the record is in memory (the
	// writer still writes it promptly). Default: wait for the kernel.
	NoWait   bool
	Logger   *slog.Logger // nil discards
	Observer Observer     // nil: nothing
}

func (o *Options) defaults() {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 32 << 30
	}
	if o.PendingMax <= 0 {
		o.PendingMax = 64 << 20
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
}

// Observer is told what the journal does. Calls come from Append's and
// the writer's goroutines; implementations must be safe for concurrent
// use and must not block.
type Observer interface {
	// JournalWritten: records and bytes written to a segment.
	JournalWritten(records int, bytes int64)
	// JournalDropped: records and bytes dropped, and why ("full": past
	// MaxBytes; "behind": past PendingMax while the disk is slow;
	// "write failed"; "closed").
	JournalDropped(records int, bytes int64, reason string)
}

type nopObserver struct{}

func (nopObserver) JournalWritten(int, int64)         {}
func (nopObserver) JournalDropped(int, int64, string) {}

// Errors from Append. The record was not journaled; the journal counted
// it and logged it.
var (
	ErrFull   = errors.New("journal: full (past its size bound): record dropped")
	ErrBehind = errors.New("journal: the disk is too slow and the memory bound is reached: record dropped")
	ErrClosed = errors.New("journal: closed")
	// ErrWriteFailed: the record was in a batch the disk refused.
	ErrWriteFailed = errors.New("journal: the segment write failed: record dropped")
)

// batch is the records handed to the writer together; done is closed
// when they are written (or failed).
type batch struct {
	done chan struct{}
	err  error // set before done is closed
}

// Journal is an open journal directory: one writer goroutine, many
// appenders, one reader. Make it with Open; Close it.
type Journal struct {
	opts Options
	id   uint64
	dir  *os.File // for fsyncs of the directory when segments come and go

	mu        sync.Mutex
	pending   []byte // encoded records not yet taken by the writer
	pendRecs  int
	spare     []byte
	cur       *batch
	stalled   bool
	stallCh   chan struct{} // closed when the writer is found stalled
	closed    bool
	disk      atomic.Int64  // bytes of segments not yet released (the current one included); atomic so that OnDisk takes no lock
	segs      []uint64      // segment numbers on disk, ascending (the current one last)
	written   Pos           // everything before is in the kernel
	advanced  chan struct{} // closed (and replaced) when written moves
	dropping  string        // the reason of the drop episode going on, for logging once
	failErr   error         // the last segment write's error; nil when it succeeded
	failSince time.Time     // when writes started failing

	wake    chan struct{} // cap 1: pending has records
	quit    chan struct{}
	done    chan struct{} // the writer and the monitor have exited
	writing atomic.Int64  // unix ns when the running write started; 0 = none

	beforeWrite func()                                                          // tests: runs before each segment write (a slow disk)
	openHook    func(name string, flag int, perm os.FileMode) (*os.File, error) // tests: opens segments instead of os.OpenFile (a process out of descriptors)

	rotateErr error // the writer's last failed start of a segment; nil when the last one started (writer goroutine only)

	f   *os.File // the current segment (writer goroutine only)
	seg uint64
	off int64
}

// Open opens (or creates) the journal in opts.Dir and starts a new
// segment for this run. Existing segments stay readable (Reader) until
// released. It fails when the directory holds segments of two journals
// or files that are not segments ending in .seg.
func Open(opts Options) (*Journal, error) {
	opts.defaults()
	if opts.Dir == "" {
		return nil, errors.New("journal: no directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{opts: opts, stallCh: make(chan struct{}), advanced: make(chan struct{}), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), cur: &batch{done: make(chan struct{})}}
	if err := j.scan(); err != nil {
		return nil, err
	}
	if j.id == 0 {
		var b [8]byte
		rand.Read(b[:])
		j.id = binary.LittleEndian.Uint64(b[:]) | 1
	}
	d, err := os.Open(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.dir = d
	next := uint64(1)
	if len(j.segs) > 0 {
		next = j.segs[len(j.segs)-1] + 1
	}
	if err := j.startSegment(next); err != nil {
		d.Close()
		return nil, err
	}
	j.written = Pos{j.seg, j.off}
	go j.writer()
	return j, nil
}

// ID identifies this journal (kept in every segment): the database
// records it with the position it committed, so that a position is never
// applied to another journal.
func (j *Journal) ID() uint64 { return j.id }

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.opts.Dir }

// scan finds the existing segments and the journal id.
func (j *Journal) scan() error {
	ents, err := os.ReadDir(j.opts.Dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".seg") {
			continue
		}
		seg, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 16, 64)
		if err != nil || name != segName(seg) {
			return fmt.Errorf("journal: %s: not a segment name", filepath.Join(j.opts.Dir, name))
		}
		h, size, err := readSegHeader(filepath.Join(j.opts.Dir, name))
		if err != nil {
			return err
		}
		if j.id != 0 && h.journalID != j.id {
			return fmt.Errorf("journal: %s holds segments of two journals (%x and %x)", j.opts.Dir, j.id, h.journalID)
		}
		j.id = h.journalID
		j.segs = append(j.segs, seg)
		j.disk.Add(size)
	}
	slices.Sort(j.segs)
	return nil
}

func readSegHeader(path string) (segHeader, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return segHeader{}, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	b := make([]byte, segHeaderLen)
	if _, err := f.ReadAt(b, 0); err != nil {
		return segHeader{}, 0, fmt.Errorf("journal: %s: %w", path, err)
	}
	h, err := parseSegHeader(b)
	if err != nil {
		return segHeader{}, 0, fmt.Errorf("journal: %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return segHeader{}, 0, fmt.Errorf("journal: %w", err)
	}
	return h, fi.Size(), nil
}

// open opens a segment file for the writer or the reader.
func (j *Journal) open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if j.openHook != nil {
		return j.openHook(name, flag, perm)
	}
	return os.OpenFile(name, flag, perm)
}

// startSegment closes the current segment (if any) and starts segment
// seg. Writer goroutine (or Open) only.
func (j *Journal) startSegment(seg uint64) error {
	path := filepath.Join(j.opts.Dir, segName(seg))
	f, err := j.open(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write(segHeader{journalID: j.id, seg: seg, run: j.opts.Run}.encode()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("journal: %s: %w", path, err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.seg, j.off = f, seg, segHeaderLen
	j.mu.Lock()
	j.segs = append(j.segs, seg)
	j.disk.Add(segHeaderLen)
	j.mu.Unlock()
	return nil
}

// Append journals r: it returns once r is in the kernel, or at once when
// the writer is stalled (r then waits in memory), or with ErrFull,
// ErrBehind, ErrWriteFailed or ErrClosed when r was dropped (counted and logged). It
// never waits on a slow disk. Safe for concurrent use; r.Data is copied.
func (j *Journal) Append(r *Record) error {
	n := recordLen(len(r.Data))
	j.mu.Lock()
	switch {
	case j.closed:
		j.mu.Unlock()
		j.opts.Observer.JournalDropped(1, n, "closed")
		return ErrClosed
	case j.disk.Load()+int64(len(j.pending))+n > j.opts.MaxBytes:
		j.dropLocked(n, "full")
		j.mu.Unlock()
		return ErrFull
	case int64(len(j.pending))+n > j.opts.PendingMax:
		j.dropLocked(n, "behind")
		j.mu.Unlock()
		return ErrBehind
	}
	if j.dropping != "" {
		j.opts.Logger.Warn("journal: records are journaled again", "dir", j.opts.Dir)
		j.dropping = ""
	}
	j.pending = appendRecord(j.pending, r)
	j.pendRecs++
	b, stalled, stallCh := j.cur, j.stalled, j.stallCh
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	if stalled || j.opts.NoWait {
		return nil
	}
	select {
	case <-b.done:
		return b.err
	case <-stallCh:
		return nil
	}
}

// dropLocked counts a dropped record and logs the first of an episode.
func (j *Journal) dropLocked(n int64, reason string) {
	j.opts.Observer.JournalDropped(1, n, reason)
	if j.dropping != reason {
		j.dropping = reason
		j.opts.Logger.Error("journal: DROPPING FRAMES: "+reason+"; what is dropped is counted (danmakud_journal_dropped_total)",
			"dir", j.opts.Dir, "on_disk_bytes", j.disk.Load(), "max_bytes", j.opts.MaxBytes, "pending_bytes", len(j.pending),
			"pending_max", j.opts.PendingMax)
	}
}
