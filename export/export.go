// Package export writes the events a danmakud database holds as files
// other tools read: JSON lines, CSV, BililiveRecorder danmaku XML and
// Parquet. It reads through a read-only handle (it works while collect
// writes), one row at a time, in constant memory, and writes every file
// under a temporary name that is renamed into place when complete
// (internal/atomicfile): a reader never sees a partial file, and an
// export that fails or is cancelled removes its unfinished file.
//
// A Go program fills Options and calls Run; `danmakud export` is a thin
// client of it that parses flags into Options and prints progress.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/storage"
)

// Format is one output format. The set is fixed: Formats lists it.
type Format interface {
	// Name is the format's name, what `export --format` takes.
	Name() string
	// Doc says what the output holds, as one paragraph for help text.
	Doc() string
	// ToDir reports whether Options.Out names a directory (the format
	// writes several files) rather than one file.
	ToDir() bool
	// write writes what j selects.
	write(ctx context.Context, j *job) error
}

// The formats.
var (
	JSONL   Format = jsonlFormat{}
	CSV     Format = csvFormat{}
	XML     Format = xmlFormat{}
	Parquet Format = parquetFormat{}
)

// Formats are the formats, in the order help text lists them. Shared; do
// not modify.
var Formats = []Format{JSONL, CSV, XML, Parquet}

// FormatNamed returns the format called name, or nil.
func FormatNamed(name string) Format {
	for _, f := range Formats {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// Options say what Run exports and where. The zero value of every field
// but DBs and Format is a usable default.
type Options struct {
	// DBs are the database files, opened read-only and read as one
	// dataset (storage.OpenSet: no two may be copies of one database, or
	// one merged into another): each table's rows are written file after
	// file, in this order; XML merges the files' timelines.
	DBs []string
	// Format is the output format (one of Formats).
	Format Format
	// Partition, with Parquet, is "day": Out/<table>/day=YYYY-MM-DD/
	// part-<file>-<n>.parquet, one directory per Bilibili day (UTC+8) of
	// the receive time (see writePartitioned). "" = one file per table.
	Partition string
	// Tables are the event tables to export (values of
	// storage.EventTables); nil means all. They are written in export
	// order whatever their order here.
	Tables []*storage.EventTable
	// Filter selects rooms and a receive-time range.
	Filter storage.ExportFilter
	// Out is where the output goes. For a format that writes one file
	// (ToDir false: jsonl) it is that file, and "" or "-" means Stdout;
	// otherwise it is a directory, created (mode 0755) if needed, and ""
	// or "-" means ".". Files are written with mode 0644; an existing
	// file of the same name is replaced.
	Out string
	// Stdout receives a one-file format's output when Out is "" or "-";
	// nil means os.Stdout.
	Stdout io.Writer
	// Version is written into the files as the writer's version (XML's
	// <BililiveRecorder version="danmakud …">, Parquet's created_by).
	Version string
	// Progress, when not nil, is called after every row written with
	// what is being written (a table's name; "xml" for XML, which merges
	// tables) and the rows written so far. It runs on Run's goroutine:
	// a slow Progress slows the export.
	Progress func(what string, rows int64)
}

// Result is what Run wrote.
type Result struct {
	Rows  int64    // rows written (XML: elements)
	Files []string // the files completed, in order; none for Stdout
}

// KindsError is Validate's error when the format holds none of the
// selected tables (XML holds only danmaku, gifts, super chats and
// guards).
type KindsError struct {
	Format string
	Kinds  []string // the kinds it holds, in export order
}

func (e *KindsError) Error() string {
	k := e.Kinds
	list := strings.Join(k, ", ")
	if len(k) > 1 {
		list = strings.Join(k[:len(k)-1], ", ") + " and " + k[len(k)-1]
	}
	return e.Format + " holds only the kinds " + list
}

// Validate checks the options without touching any file: a Format, room
// ids > 0, a time range that ends after it starts, and tables the format
// can hold (else a *KindsError).
func (o *Options) Validate() error {
	if o.Format == nil {
		return errors.New("export: no Format")
	}
	switch o.Partition {
	case "":
	case PartitionDay:
		if o.Format != Parquet {
			return fmt.Errorf("partitioning by %s writes Parquet only, not %s", o.Partition, o.Format.Name())
		}
	default:
		return fmt.Errorf("bad partitioning %q: the one there is is %q", o.Partition, PartitionDay)
	}
	for _, r := range o.Filter.Rooms {
		if r <= 0 {
			return fmt.Errorf("bad room id %d: room ids are positive integers", r)
		}
	}
	if f := o.Filter; f.SinceMs != 0 && f.UntilMs != 0 && f.UntilMs <= f.SinceMs {
		return fmt.Errorf("export: the time range ends (UntilMs %d) before it starts (SinceMs %d)", f.UntilMs, f.SinceMs)
	}
	if c, ok := o.Format.(interface {
		check([]*storage.EventTable) error
	}); ok {
		return c.check(o.tables())
	}
	return nil
}

// tables are the selected tables in export order.
func (o *Options) tables() []*storage.EventTable {
	if len(o.Tables) == 0 {
		return storage.EventTables()
	}
	var out []*storage.EventTable
	for _, et := range storage.EventTables() {
		for _, s := range o.Tables {
			if s == et {
				out = append(out, et)
				break
			}
		}
	}
	return out
}

// Run exports: it validates the options, opens DBs read-only as one
// dataset, refuses a file whose schema is older than this build's
// (storage.CheckExportable), and writes. It blocks until done. When ctx ends it stops within a row,
// removes the unfinished file (finished ones are kept) and returns an
// error wrapping ctx.Err(). Other errors name the database file or the
// output file and the cause. Result counts what was written, also on an
// error.
func (o Options) Run(ctx context.Context) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	if len(o.DBs) == 0 {
		return Result{}, errors.New("export: no database file (DBs)")
	}
	set, err := storage.OpenSet(ctx, o.DBs)
	if err != nil {
		return Result{}, err
	}
	defer set.Close()
	if err := set.CheckExportable(ctx); err != nil {
		return Result{}, err
	}
	j := &job{o: &o, set: set, tables: o.tables()}
	err = o.Format.write(ctx, j)
	res := Result{Rows: j.rows, Files: j.files}
	switch {
	case err != nil && ctx.Err() != nil:
		return res, fmt.Errorf("export: interrupted: %w", ctx.Err())
	case err != nil && len(set.DBs) == 1:
		return res, set.DBs[0].Explain(err)
	case err != nil:
		return res, err
	}
	return res, nil
}

// job is one Run's state, shared by the format writers.
type job struct {
	o      *Options
	set    *storage.Set
	tables []*storage.EventTable
	what   string // what is being written, for Progress
	rows   int64
	files  []string
}

// row counts one row written.
func (j *job) row() {
	j.rows++
	if j.o.Progress != nil {
		j.o.Progress(j.what, j.rows)
	}
}

// scan calls fn for each of et's selected rows (storage.ScanEvents)
// in every file, stopping with ctx's error at the first row after ctx
// ends.
func (j *job) scan(ctx context.Context, et *storage.EventTable, fn func(row []any) error) error {
	return j.set.ScanEvents(ctx, et.Table, j.o.Filter, func(row []any) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(row)
	})
}

// create starts an output file (mode 0644) under a temporary name.
func (j *job) create(path string) (*atomicfile.File, error) {
	return atomicfile.Create(path, 0o644)
}

// commit puts a finished file in place and records it.
func (j *job) commit(f *atomicfile.File) error {
	if err := f.Commit(); err != nil {
		return err
	}
	j.files = append(j.files, f.Path())
	return nil
}

// outDir is the output directory, created if needed.
func (j *job) outDir() (string, error) {
	dir := j.o.Out
	if dir == "" || dir == "-" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// tableWriter writes one table's selected rows to w, calling j.row per
// row.
type tableWriter func(ctx context.Context, j *job, et *storage.EventTable, w io.Writer) error

// eachTable writes one file per selected table, <dir>/<table><ext>.
func (j *job) eachTable(ctx context.Context, ext string, write tableWriter) error {
	dir, err := j.outDir()
	if err != nil {
		return err
	}
	for _, et := range j.tables {
		j.what = et.Name
		f, err := j.create(filepath.Join(dir, et.Name+ext))
		if err != nil {
			return err
		}
		if err := write(ctx, j, et, f); err != nil {
			f.Abort()
			return fmt.Errorf("%s: %w", et.Name, err)
		}
		if err := j.commit(f); err != nil {
			return err
		}
	}
	return nil
}

// kindList is the kinds of tables, comma-separated, for docs.
func kindList(tables []*storage.EventTable) string {
	var k []string
	for _, et := range tables {
		k = append(k, string(et.Kind))
	}
	return strings.Join(k, ", ")
}

// validUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json (and jsonl) does. SQLite keeps
// TEXT bytes as received; CSV and Parquet readers (pandas, DuckDB)
// reject invalid UTF-8.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}
