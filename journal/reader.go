package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/danmakud/danmakud/internal/descriptors"
)

// Reader reads a journal's records in order. One Reader per journal; not
// safe for concurrent use.
type Reader struct {
	j   *Journal
	pos Pos      // where the next record starts
	f   *os.File // segment pos.Seg; nil before the first read
	buf []byte   // file bytes [bufAt, bufAt+len(buf))
	at  int64
	run int64 // the open segment's run id
	rec Record
	// short: the process is out of descriptors (the next segment cannot
	// be opened); said once, until a segment opens again.
	short bool
}

// openRetry is how long Next waits before it tries again to open a
// segment when the process has no descriptor to spare.
const openRetry = 100 * time.Millisecond

// NewReader reads from p (the zero Pos: from the first segment on disk).
func (j *Journal) NewReader(p Pos) *Reader { return &Reader{j: j, pos: p} }

// Pos is where the next record starts.
func (r *Reader) Pos() Pos { return r.pos }

// Close releases the reader's file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Next returns the next record and the position just after it. It waits
// for one until ctx ends (ctx's error) or the journal is closed and
// everything written has been read (io.EOF). The record's Data is valid
// until the next call. A damaged record in a finished segment ends that
// segment (logged); reading goes on with the next. When the process has
// no descriptor left to open the next segment (EMFILE, ENFILE), Next
// says so once and tries again every openRetry.
func (r *Reader) Next(ctx context.Context) (*Record, Pos, error) {
	for {
		written, more := r.j.Written()
		if r.pos.Less(written) {
			rec, err := r.read(written)
			switch {
			case err == nil:
				if r.short {
					r.j.opts.Logger.Info("journal: segments open again; reading on", "dir", r.j.opts.Dir)
					r.short = false
				}
				return rec, r.pos, nil
			case errors.Is(err, errSegmentEnd):
				continue // moved on to the next segment
			case descriptors.Exhausted(err):
				if !r.short {
					r.j.opts.Logger.Error("journal: no descriptor to open the next segment; trying again", "dir", r.j.opts.Dir,
						"segment", segName(r.pos.Seg), "err", err)
					r.short = true
				}
				t := time.NewTimer(openRetry)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, r.pos, ctx.Err()
				case <-t.C:
				}
				continue
			case !errors.Is(err, errNotYet):
				return nil, r.pos, err
			}
		}
		if r.j.finished() {
			if w, _ := r.j.Written(); !r.pos.Less(w) {
				return nil, r.pos, io.EOF
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, r.pos, ctx.Err()
		case <-more:
		}
	}
}

// errSegmentEnd: the reader moved to the next segment; try again.
// errNotYet: the record at the reader's position is not written yet.
var (
	errSegmentEnd = errors.New("journal: end of segment")
	errNotYet     = errors.New("journal: not written yet")
)

// read reads the record at r.pos, below written.
func (r *Reader) read(written Pos) (*Record, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	limit := int64(-1) // read a finished segment to its end
	if r.pos.Seg == written.Seg {
		limit = written.Off
	}
	h, err := r.bytes(r.pos.Off, recHeaderLen, limit)
	switch {
	case err == io.EOF && limit < 0:
		return nil, r.nextSegment("")
	case err == io.EOF:
		return nil, errNotYet
	case err != nil:
		return nil, err
	}
	n, crc, perr := parseHeader(h, &r.rec)
	if perr != nil {
		return nil, r.nextSegment("a damaged record header")
	}
	b, err := r.bytes(r.pos.Off, recHeaderLen+n, limit)
	switch {
	case err == io.EOF && limit < 0:
		return nil, r.nextSegment("a record cut short")
	case err == io.EOF:
		return nil, errNotYet
	case err != nil:
		return nil, err
	}
	if !checkCRC(b[:recHeaderLen], b[recHeaderLen:], crc) {
		return nil, r.nextSegment("a record failing its checksum")
	}
	r.rec.Data = b[recHeaderLen:]
	r.rec.Run = r.run
	r.pos.Off += recordLen(n)
	return &r.rec, nil
}

// open opens segment r.pos.Seg, or the first one at or after it.
func (r *Reader) open() error {
	if r.f != nil {
		return nil
	}
	r.j.mu.Lock()
	segs := append([]uint64(nil), r.j.segs...)
	r.j.mu.Unlock()
	for _, s := range segs {
		if s < r.pos.Seg {
			continue
		}
		if s > r.pos.Seg {
			r.pos = Pos{s, segHeaderLen}
		}
		f, err := r.j.open(filepath.Join(r.j.opts.Dir, segName(s)), os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		hb := make([]byte, segHeaderLen)
		if _, err := f.ReadAt(hb, 0); err != nil {
			f.Close()
			return fmt.Errorf("journal: %s: %w", f.Name(), err)
		}
		h, err := parseSegHeader(hb)
		if err != nil {
			f.Close()
			return fmt.Errorf("journal: %s: %w", f.Name(), err)
		}
		r.f, r.buf, r.at, r.run = f, r.buf[:0], 0, h.run
		r.pos.Off = max(r.pos.Off, segHeaderLen)
		return nil
	}
	return fmt.Errorf("journal: no segment at or after %d in %s", r.pos.Seg, r.j.opts.Dir)
}

// nextSegment leaves the current (finished) segment; why, when not "",
// is the damage that ended it early.
func (r *Reader) nextSegment(why string) error {
	if why != "" {
		r.j.opts.Logger.Error("journal: a segment ends early; reading on with the next one", "segment",
			filepath.Join(r.j.opts.Dir, segName(r.pos.Seg)), "offset", r.pos.Off, "why", why)
	}
	r.Close()
	r.pos = Pos{r.pos.Seg + 1, segHeaderLen}
	return errSegmentEnd
}

// bytes returns the n file bytes at off, reading ahead in big chunks but
// never at or past limit (when ≥ 0). io.EOF: the file (or limit) ends
// first.
func (r *Reader) bytes(off int64, n int, limit int64) ([]byte, error) {
	if off >= r.at && off+int64(n) <= r.at+int64(len(r.buf)) {
		return r.buf[off-r.at : off-r.at+int64(n)], nil
	}
	if limit >= 0 && off+int64(n) > limit {
		return nil, io.EOF
	}
	want := max(n, 1<<20)
	if limit >= 0 {
		want = int(min(int64(want), limit-off))
	}
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	buf := r.buf[:want]
	got, err := r.f.ReadAt(buf, off)
	r.buf, r.at = buf[:got], off
	if got >= n {
		return r.buf[:n], nil
	}
	if err == nil || err == io.EOF {
		return nil, io.EOF
	}
	return nil, fmt.Errorf("journal: %w", err)
}

// Scan reads every record of the journal in dir, segment by segment in
// order, without opening it for writing (a tool's or a test's look at
// what was journaled), and calls fn for each; rec.Data is valid during
// the call. A damaged record ends its segment, as for a Reader. It
// returns fn's first error.
func Scan(dir string, fn func(rec *Record) error) error {
	j := &Journal{opts: Options{Dir: dir}, done: make(chan struct{})}
	j.opts.defaults()
	if err := j.scan(); err != nil {
		return err
	}
	if len(j.segs) == 0 {
		return nil
	}
	last := j.segs[len(j.segs)-1]
	j.written = Pos{last + 1, segHeaderLen} // every segment is finished
	close(j.done)                           // nothing more will come
	r := j.NewReader(Pos{})
	defer r.Close()
	for {
		rec, _, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if r.pos.Seg > last { // ran past the last segment
				return nil
			}
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
