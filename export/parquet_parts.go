package export

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/storage"
)

// PartitionDay is Options.Partition's one value: Parquet segments per
// table and Bilibili day.
const PartitionDay = "day"

// maxOpenParts bounds the part files open at once per table (each
// holds up to a row group in memory); rows of a day that comes back
// after its part was closed go to the next part of that day.
const maxOpenParts = 4

// partTagLen is how many hex digits of a file's database_id name its
// parts.
const partTagLen = 16

// writePartitioned writes each selected table of each file as Parquet
// segments in Hive layout, Out/<table>/day=YYYY-MM-DD/part-<file>-<n>.parquet:
// day is the Bilibili day (UTC+8) of the row's receive time, <file> the
// first 16 hex digits of the file's database_id and <n> counts the parts
// of that file, table and day from 0000 (rows in file order). The names
// depend only on the file and its rows, so an export again over the same
// file replaces its parts: after writing a file's table, its parts of
// that table (part-<file>-*.parquet) in the days the export covers
// (every day, or those --since/--until touch) that this export did not
// write are removed. Parts of other files are left alone. Each time
// column <x>_ms has a TIMESTAMP <x>_at (UTC, milliseconds) beside it.
func writePartitioned(ctx context.Context, j *job) error {
	root, err := j.outDir()
	if err != nil {
		return err
	}
	for _, db := range j.set.DBs {
		id, err := db.ID(ctx)
		if err != nil {
			return err
		}
		if len(id) < partTagLen {
			return fmt.Errorf("%s has no database id: open it once with collect or reparse of this build", db.Path())
		}
		for _, et := range j.tables {
			j.what = et.Name
			p := &partWriter{j: j, et: et, dir: filepath.Join(root, et.Name), tag: id[:partTagLen],
				open: map[string]*openPart{}, seq: map[string]int{}, written: map[string]bool{}}
			err := db.ScanEvents(ctx, et.Table, j.o.Filter, func(row []any) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				j.row()
				return p.add(row)
			})
			if err == nil {
				err = p.closeAll()
			}
			if err != nil {
				p.abort()
				return fmt.Errorf("%s: %s: %w", db.Path(), et.Name, err)
			}
			if err := p.removeStale(); err != nil {
				return err
			}
		}
	}
	return nil
}

// partWriter writes one file's table into day parts.
type partWriter struct {
	j       *job
	et      *storage.EventTable
	dir     string // Out/<table>
	tag     string
	recv    int // index of recv_ms in a row
	open    map[string]*openPart
	seq     map[string]int  // day → the next part's number
	written map[string]bool // paths of the parts written
	uses    int64
}

// openPart is a part file being written.
type openPart struct {
	f    *atomicfile.File
	sink *parquetSink
	used int64 // when it last took a row (partWriter.uses)
}

// dayOf is the Bilibili day of a receive time.
func dayOf(ms int64) string { return time.UnixMilli(ms).In(Zone).Format(time.DateOnly) }

// add writes a row into its day's open part, opening one (and closing
// the least recently used when maxOpenParts are open) when needed.
func (p *partWriter) add(row []any) error {
	if p.uses == 0 {
		p.recv = -1
		for i, c := range p.et.Columns {
			if c.Name == "recv_ms" {
				p.recv = i
			}
		}
		if p.recv < 0 {
			return fmt.Errorf("table %s has no recv_ms to partition by", p.et.Name)
		}
	}
	p.uses++
	ms, _ := row[p.recv].(int64)
	day := dayOf(ms)
	op := p.open[day]
	if op == nil {
		if len(p.open) >= maxOpenParts {
			if err := p.closeOldest(); err != nil {
				return err
			}
		}
		dir := filepath.Join(p.dir, "day="+day)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("part-%s-%04d.parquet", p.tag, p.seq[day]))
		p.seq[day]++
		f, err := p.j.create(path)
		if err != nil {
			return err
		}
		op = &openPart{f: f, sink: newParquetSink(f, p.j, p.et, true)}
		p.open[day] = op
	}
	op.used = p.uses
	return op.sink.add(row)
}

// closeOldest finishes the part that took a row longest ago.
func (p *partWriter) closeOldest() error {
	oldest := ""
	for day, op := range p.open {
		if oldest == "" || op.used < p.open[oldest].used {
			oldest = day
		}
	}
	return p.finish(oldest)
}

// finish completes a day's open part.
func (p *partWriter) finish(day string) error {
	op := p.open[day]
	delete(p.open, day)
	if err := op.sink.close(); err != nil {
		op.f.Abort()
		return err
	}
	if err := p.j.commit(op.f); err != nil {
		return err
	}
	p.written[op.f.Path()] = true
	return nil
}

// closeAll completes the open parts, in day order.
func (p *partWriter) closeAll() error {
	for _, day := range slices.Sorted(maps.Keys(p.open)) {
		if err := p.finish(day); err != nil {
			return err
		}
	}
	return nil
}

// abort removes the unfinished parts.
func (p *partWriter) abort() {
	for day, op := range p.open {
		op.f.Abort()
		delete(p.open, day)
	}
}

// removeStale removes this file's parts of the table, in the days the
// export covers, that this export did not write; a day directory left
// empty goes too.
func (p *partWriter) removeStale() error {
	days, err := os.ReadDir(p.dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	f := p.j.o.Filter
	for _, d := range days {
		day, ok := strings.CutPrefix(d.Name(), "day=")
		if !d.IsDir() || !ok {
			continue
		}
		start, err := time.ParseInLocation(time.DateOnly, day, Zone)
		if err != nil {
			continue
		}
		if f.UntilMs != 0 && start.UnixMilli() >= f.UntilMs || f.SinceMs != 0 && start.AddDate(0, 0, 1).UnixMilli() <= f.SinceMs {
			continue // outside the export's range
		}
		dir := filepath.Join(p.dir, d.Name())
		parts, err := filepath.Glob(filepath.Join(dir, "part-"+p.tag+"-*.parquet"))
		if err != nil {
			return err
		}
		for _, part := range parts {
			if !p.written[part] {
				if err := os.Remove(part); err != nil {
					return err
				}
			}
		}
		_ = os.Remove(dir) // only when empty
	}
	return nil
}
