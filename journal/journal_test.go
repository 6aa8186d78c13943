package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// counter is an Observer that counts.
type counter struct {
	written, dropped atomic.Int64
	mu               sync.Mutex
	reasons          map[string]int
}

func (c *counter) JournalWritten(n int, _ int64) { c.written.Add(int64(n)) }
func (c *counter) JournalDropped(n int, _ int64, reason string) {
	c.dropped.Add(int64(n))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reasons == nil {
		c.reasons = map[string]int{}
	}
	c.reasons[reason] += n
}

func frame(i int) []byte {
	return []byte(fmt.Sprintf("frame %06d %s", i, bytes.Repeat([]byte{'x'}, i%97)))
}

func open(t *testing.T, dir string, o Options) *Journal {
	t.Helper()
	o.Dir = dir
	j, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// readAll reads every record written so far (the journal must be closed).
func readAll(t *testing.T, j *Journal, from Pos) (recs []Record, ends []Pos) {
	t.Helper()
	r := j.NewReader(from)
	defer r.Close()
	for {
		rec, end, err := r.Next(context.Background())
		if err == io.EOF {
			return recs, ends
		}
		if err != nil {
			t.Fatal(err)
		}
		c := *rec
		c.Data = append([]byte(nil), rec.Data...)
		recs = append(recs, c)
		ends = append(ends, end)
	}
}

// TestRoundTripAcrossSegments: records come back in order, intact, across
// many small segments, with increasing positions.
func TestRoundTripAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	var obs counter
	j := open(t, dir, Options{SegmentSize: 1 << 10, Run: 7, Observer: &obs})
	for i := range 500 {
		if err := j.Append(&Record{Kind: KindFrame, Conn: uint32(i % 3), Room: int64(100 + i%5), RecvMs: int64(i), Data: frame(i)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	recs, ends := readAll(t, j, Pos{})
	if len(recs) != 500 || obs.written.Load() != 500 {
		t.Fatalf("read %d records, %d written", len(recs), obs.written.Load())
	}
	for i, r := range recs {
		if !bytes.Equal(r.Data, frame(i)) || r.Room != int64(100+i%5) || r.Conn != uint32(i%3) || r.RecvMs != int64(i) || r.Kind != KindFrame || r.Run != 7 {
			t.Fatalf("record %d: %+v", i, r)
		}
		if i > 0 && !ends[i-1].Less(ends[i]) {
			t.Fatalf("positions not increasing: %v then %v", ends[i-1], ends[i])
		}
	}
	if ends[len(ends)-1].Seg < 10 {
		t.Errorf("500 records in 1 KiB segments ended in segment %d", ends[len(ends)-1].Seg)
	}
}

// TestReplayFromCommittedPosition: a second Open (the next run) reads the
// previous run's records after the position the consumer had committed,
// then its own, and Release deletes what is consumed.
func TestReplayFromCommittedPosition(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{SegmentSize: 2 << 10})
	for i := range 100 {
		j.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	j.Close()
	_, ends := readAll(t, j, Pos{})
	committed := ends[59] // the consumer had stored 60 records

	j2 := open(t, dir, Options{SegmentSize: 2 << 10})
	defer j2.Close()
	if j2.ID() != j.ID() {
		t.Fatalf("the journal's id changed: %x → %x", j.ID(), j2.ID())
	}
	for i := 100; i < 110; i++ {
		j2.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	before := j2.OnDisk()
	if err := j2.Release(committed); err != nil {
		t.Fatal(err)
	}
	if j2.OnDisk() >= before {
		t.Errorf("Release freed nothing: %d → %d bytes", before, j2.OnDisk())
	}
	j2.Close()
	recs, _ := readAll(t, j2, committed)
	if len(recs) != 50 {
		t.Fatalf("replayed %d records after the committed position, want 50", len(recs))
	}
	for k, r := range recs {
		if !bytes.Equal(r.Data, frame(60+k)) {
			t.Fatalf("replayed record %d is %q", k, r.Data)
		}
	}
}

// TestTornTail: a record cut short at the end of a segment (a crash
// mid-write) ends that segment; the records before it and the next run's
// records are read.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	for i := range 10 {
		j.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	j.Close()
	seg := filepath.Join(dir, segName(1))
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	j2 := open(t, dir, Options{})
	j2.Append(&Record{Kind: KindFrame, Data: []byte("after the crash")})
	j2.Close()
	recs, _ := readAll(t, j2, Pos{})
	if len(recs) != 10 || string(recs[9].Data) != "after the crash" || !bytes.Equal(recs[8].Data, frame(8)) {
		t.Fatalf("read %d records: last %q", len(recs), recs[len(recs)-1].Data)
	}
}

// TestDamagedRecordEndsSegment: a flipped byte fails the checksum.
func TestDamagedRecordEndsSegment(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	for i := range 5 {
		j.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	j.Close()
	seg := filepath.Join(dir, segName(1))
	b, _ := os.ReadFile(seg)
	off := segHeaderLen + 2*int(recordLen(len(frame(0)))) + recHeaderLen + 3 // inside the third record's data
	b[off] ^= 0xff
	os.WriteFile(seg, b, 0o600)
	j2 := open(t, dir, Options{})
	j2.Close()
	recs, _ := readAll(t, j2, Pos{})
	if len(recs) != 2 {
		t.Fatalf("read %d records before the damage, want 2", len(recs))
	}
}

// TestReaderWaitsForAppends: a reader caught up waits and then gets what
// is appended, concurrently with many appenders.
func TestReaderWaitsForAppends(t *testing.T) {
	j := open(t, t.TempDir(), Options{SegmentSize: 4 << 10})
	const writers, each = 8, 200
	got := make(chan int, 1)
	go func() {
		r := j.NewReader(Pos{})
		defer r.Close()
		n := 0
		for {
			_, _, err := r.Next(context.Background())
			if err != nil {
				if err != io.EOF {
					t.Errorf("reader: %v", err)
				}
				got <- n
				return
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := j.Append(&Record{Kind: KindFrame, Conn: uint32(w), Data: frame(i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	if n := <-got; n != writers*each {
		t.Errorf("the reader got %d records, want %d", n, writers*each)
	}
}

// TestSlowDiskNeverBlocksAppend: while the disk does not answer, Append
// returns (after StallAfter at most once), records wait in memory up to
// PendingMax, the rest are dropped and counted; when the disk answers
// again everything held is written.
func TestSlowDiskNeverBlocksAppend(t *testing.T) {
	var obs counter
	j := open(t, t.TempDir(), Options{StallAfter: 5 * time.Millisecond, PendingMax: 4 << 10, Observer: &obs})
	release := make(chan struct{})
	var once sync.Once
	j.beforeWrite = func() { once.Do(func() { <-release }) } // the first write hangs
	done := make(chan int)
	go func() {
		dropped := 0
		for i := range 200 {
			if err := j.Append(&Record{Kind: KindFrame, Data: frame(i)}); errors.Is(err, ErrBehind) {
				dropped++
			}
		}
		done <- dropped
	}()
	var dropped int
	select {
	case dropped = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Append blocked while the disk hung")
	}
	close(release)
	j.Close()
	recs, _ := readAll(t, j, Pos{})
	if dropped == 0 || int(obs.dropped.Load()) != dropped || obs.reasons["behind"] != dropped {
		t.Errorf("dropped %d, observer %d %v", dropped, obs.dropped.Load(), obs.reasons)
	}
	if len(recs)+dropped != 200 {
		t.Errorf("%d read + %d dropped != 200 appended", len(recs), dropped)
	}
}

// TestFullDropsAndCounts: past MaxBytes records are dropped and counted;
// after Release frees space they are journaled again.
func TestFullDropsAndCounts(t *testing.T) {
	var obs counter
	j := open(t, t.TempDir(), Options{SegmentSize: 1 << 10, MaxBytes: 4 << 10, Observer: &obs})
	defer j.Close()
	full := 0
	for i := range 100 {
		if err := j.Append(&Record{Kind: KindFrame, Data: frame(i)}); errors.Is(err, ErrFull) {
			full++
		}
	}
	if full == 0 || obs.reasons["full"] != full {
		t.Fatalf("full %d, observer %v", full, obs.reasons)
	}
	w, _ := j.Written()
	j.Release(w)
	if err := j.Append(&Record{Kind: KindFrame, Data: frame(1)}); err != nil {
		t.Errorf("after Release: %v", err)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.seg"), []byte("hello"), 0o600)
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Error("a .seg file that is not a segment was accepted")
	}
	dir2 := t.TempDir()
	a := open(t, filepath.Join(dir2, "a"), Options{})
	a.Close()
	b := open(t, filepath.Join(dir2, "b"), Options{})
	b.Close()
	os.Rename(filepath.Join(dir2, "b", segName(1)), filepath.Join(dir2, "a", segName(9)))
	if _, err := Open(Options{Dir: filepath.Join(dir2, "a")}); err == nil {
		t.Error("segments of two journals in one directory were accepted")
	}
}

func TestAppendAfterClose(t *testing.T) {
	j := open(t, t.TempDir(), Options{})
	j.Close()
	if err := j.Append(&Record{Kind: KindFrame, Data: []byte("late")}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

// TestReleaseAfterCloseEmptiesTheJournal: consumed to its end after
// Close, nothing is left on disk; the next Open starts empty.
func TestReleaseAfterCloseEmptiesTheJournal(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{SegmentSize: 1 << 10})
	for i := range 50 {
		j.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	j.Close()
	_, ends := readAll(t, j, Pos{})
	j.Release(ends[len(ends)-2])
	if ents, _ := os.ReadDir(dir); len(ents) == 0 {
		t.Fatal("released past the unread last record")
	}
	j.Release(ends[len(ends)-1])
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || j.OnDisk() != 0 {
		t.Errorf("after the last release: %d files, %d bytes", len(ents), j.OnDisk())
	}
}

// TestScan reads a closed journal's records without opening it.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{SegmentSize: 1 << 10, Run: 3})
	for i := range 40 {
		j.Append(&Record{Kind: KindFrame, Data: frame(i)})
	}
	j.Close()
	n := 0
	err := Scan(dir, func(r *Record) error {
		if !bytes.Equal(r.Data, frame(n)) || r.Run != 3 {
			t.Errorf("record %d: %q run %d", n, r.Data, r.Run)
		}
		n++
		return nil
	})
	if err != nil || n != 40 {
		t.Errorf("Scan: %d records, %v", n, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) == 0 {
		t.Error("Scan removed segments")
	}
}

// TestOutOfDescriptors: while the process cannot open a file (EMFILE),
// the writer goes on into the current segment past SegmentSize and the
// reader waits to open its segment, each saying so once; nothing is
// dropped, and once descriptors are back segments start and are read
// again, every record in order. (At 30,000 rooms a journal that could not
// start its next segment dropped 1,238 frames.)
func TestOutOfDescriptors(t *testing.T) {
	dir := t.TempDir()
	var obs counter
	var logs syncBuffer
	j := open(t, dir, Options{SegmentSize: 1 << 10, Observer: &obs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var short atomic.Bool
	short.Store(true)
	readerFailed := make(chan struct{}, 16)
	j.openHook = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if short.Load() {
			if flag == os.O_RDONLY {
				select {
				case readerFailed <- struct{}{}:
				default:
				}
			}
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EMFILE}
		}
		return os.OpenFile(name, flag, perm)
	}
	const each = 300
	for i := range each {
		if err := j.Append(&Record{Kind: KindFrame, Room: 1, Data: frame(i)}); err != nil {
			t.Fatalf("append %d while out of descriptors: %v", i, err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("%d segments while no file could be opened, want the first one only", len(segs))
	}
	if fi, err := os.Stat(segs[0]); err != nil || fi.Size() <= 1<<10 {
		t.Fatalf("the current segment did not take the records past its size: %v %v", fi, err)
	}

	got := make(chan []Record, 1)
	go func() {
		r := j.NewReader(Pos{})
		defer r.Close()
		var recs []Record
		for len(recs) < 2*each {
			rec, _, err := r.Next(context.Background())
			if err != nil {
				t.Errorf("reader after %d records: %v", len(recs), err)
				break
			}
			c := *rec
			c.Data = append([]byte(nil), rec.Data...)
			recs = append(recs, c)
		}
		got <- recs
	}()
	<-readerFailed // the reader met EMFILE at least twice: it retries
	<-readerFailed
	short.Store(false)
	for i := each; i < 2*each; i++ {
		if err := j.Append(&Record{Kind: KindFrame, Room: 1, Data: frame(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	recs := <-got
	j.Close()
	if len(recs) != 2*each {
		t.Fatalf("read %d records, want %d", len(recs), 2*each)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Data, frame(i)) {
			t.Fatalf("record %d: %q", i, r.Data)
		}
	}
	if n := obs.dropped.Load(); n != 0 {
		t.Errorf("%d records dropped (%v)", n, obs.reasons)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) < 3 {
		t.Errorf("%d segments after descriptors came back, want new ones started", len(segs))
	}
	out := logs.String()
	for msg, want := range map[string]int{"cannot start the next segment": 1, "segments start again": 1,
		"no descriptor to open the next segment": 1, "segments open again": 1} {
		if n := strings.Count(out, msg); n != want {
			t.Errorf("%q logged %d times, want %d:\n%s", msg, n, want, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the journal's goroutines to log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
