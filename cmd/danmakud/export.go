package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danmakud/danmakud/storage"
	"github.com/spf13/cobra"
)

// exportOptions are the export command's flags.
type exportOptions struct {
	db     string
	format string
	rooms  []int64
	kinds  []string
	since  string
	until  string
	out    string
	quiet  bool
	// progressEvery prints a progress line every this many rows when
	// stderr is not a terminal (0 = never); on a terminal one line is
	// redrawn about 5 times a second.
	progressEvery int64

	stdout, stderr io.Writer
	tty            bool // stderr is a terminal
}

// exportFormats are the --format values.
var exportFormats = []string{"jsonl", "csv", "xml", "parquet"}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --db FILE --format jsonl|csv|xml|parquet [--room ID]... [--kind K]... [--since T] [--until T] [-o FILE|DIR]",
		Short: "Write stored events as JSON lines, CSV, BililiveRecorder danmaku XML or Parquet",
		Long: `Export reads the database (read-only; it works while collect is writing) and
writes the events it holds, row by row, in constant memory.

Formats:
  jsonl    one canonical event JSON object per line (the objects of 'decode',
           with room_id filled and recv_ms added), table after table: danmaku,
           gift, super_chat, guard, interact, counter, room, combo, red_pocket.
           -o FILE, default '-' (standard output).
  csv      one RFC 4180 file per kind, <table>.csv in -o DIR (default '.'),
           header row = the table's columns (see the README's data dictionary);
           integers as digits, NULL as an empty field, text as valid UTF-8
           (a stored byte that is not becomes U+FFFD, as in jsonl and parquet).
  parquet  one file per kind, <table>.parquet in -o DIR: INT64 and UTF-8
           BYTE_ARRAY columns, optional where the column may be NULL, row
           groups of at most 65,536 rows, zstd. pandas, polars and DuckDB read
           it directly.
  xml      BililiveRecorder danmaku XML (what DanmakuFactory and the
           recorder's toolbox read), one file per room and live session,
           <room>-<YYYYMMDD-HHMMSS>.xml in -o DIR, named by the session's start
           in UTC+8. A session starts at a LIVE room event and ends at
           PREPARING; the stretch before a room's first LIVE in range (or a
           room without one) starts at --since, else at the room's first
           event; the stretch after a PREPARING starts at the PREPARING.
           Times are seconds since the session start, by receive time.
           Written: every stored danmaku (mirrored ones included), every
           gift (one per SEND_GIFT_V2 item), every super chat (the JPN copy
           is the same row; deleted ones included), one guard per purchase
           (GUARD_BUY and its toasts are one row). --kind danmaku, gift,
           super_chat, guard narrows it.

--kind takes a kind (danmaku, gift, super_chat, guard, interact, counter, room,
combo, red_pocket) or its table name; repeatable; default all.
--room takes real room ids; repeatable; default all.
--since / --until bound the receive time (recv_ms): since <= t < until. A time
is RFC 3339 ("2026-11-27T20:00:00+08:00"), "2006-01-02 15:04:05" or
"2006-01-02" read in UTC+8 (Bilibili's day, China Standard Time), or unix
milliseconds.

Files are written under a temporary name and renamed when complete.`,
		Example: `  # everything as JSON lines
  danmakud export --db danmakud.db --format jsonl -o events.jsonl
  # one room's danmaku of one Bilibili day as CSV into ./out
  danmakud export --db danmakud.db --format csv --kind danmaku --room 21452505 \
      --since "2026-11-27" --until "2026-11-28" -o out
  # danmaku XML per live session, for DanmakuFactory
  danmakud export --db danmakud.db --format xml --room 21452505 -o xml/
  # Parquet for pandas / DuckDB
  danmakud export --db danmakud.db --format parquet -o parquet/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.tty = isTerminal(os.Stderr) && o.stderr == os.Stderr
			// A signal stops the export; the unfinished file is removed.
			ctx, _, stop := signalContexts(cmd.Context())
			defer stop()
			return o.run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", "danmakud.db", "SQLite database file")
	f.StringVar(&o.format, "format", "", "jsonl, csv, xml or parquet (required)")
	f.Int64SliceVar(&o.rooms, "room", nil, "only this real room id (repeatable)")
	f.StringSliceVar(&o.kinds, "kind", nil, "only this kind or table (repeatable)")
	f.StringVar(&o.since, "since", "", "only events received at or after this time (RFC 3339, '2006-01-02 15:04:05' in UTC+8, or unix ms)")
	f.StringVar(&o.until, "until", "", "only events received before this time (same forms as --since)")
	f.StringVarP(&o.out, "output", "o", "", "output file (jsonl; '-' = stdout, the default) or directory (csv, xml, parquet; default '.')")
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	f.Int64Var(&o.progressEvery, "progress-every", 1_000_000, "when stderr is not a terminal, print a progress line every N rows (0 = never)")
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

// bilibiliDayLayouts are the local-time forms --since/--until accept,
// read in UTC+8.
var bilibiliDayLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// parseExportTime reads a --since/--until value as unix milliseconds:
// RFC 3339, a local form of bilibiliDayLayouts in UTC+8, or digits
// (unix ms).
func parseExportTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("bad time %q: unix milliseconds must be > 0", s)
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	for _, l := range bilibiliDayLayouts {
		if t, err := time.ParseInLocation(l, s, bilibiliZone); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("bad time %q: want RFC 3339, '2006-01-02 15:04:05' (UTC+8) or unix milliseconds", s)
}

// exportPlan is what the flags select.
type exportPlan struct {
	filter storage.ExportFilter
	tables []*storage.EventTable
}

func (o *exportOptions) plan() (exportPlan, error) {
	var p exportPlan
	ok := false
	for _, f := range exportFormats {
		ok = ok || o.format == f
	}
	if !ok {
		return p, fmt.Errorf("--format must be one of %s, not %q", strings.Join(exportFormats, ", "), o.format)
	}
	for _, r := range o.rooms {
		if r <= 0 {
			return p, fmt.Errorf("bad room id %d: room ids are positive integers", r)
		}
	}
	p.filter.Rooms = o.rooms
	var err error
	if p.filter.SinceMs, err = parseExportTime(o.since); err != nil {
		return p, fmt.Errorf("--since: %w", err)
	}
	if p.filter.UntilMs, err = parseExportTime(o.until); err != nil {
		return p, fmt.Errorf("--until: %w", err)
	}
	if p.filter.SinceMs != 0 && p.filter.UntilMs != 0 && p.filter.UntilMs <= p.filter.SinceMs {
		return p, fmt.Errorf("--until must be after --since")
	}
	if len(o.kinds) == 0 {
		p.tables = storage.EventTables()
		return p, nil
	}
	seen := map[*storage.EventTable]bool{}
	for _, k := range o.kinds {
		et := storage.EventTableFor(strings.TrimSpace(k))
		if et == nil {
			var names []string
			for _, et := range storage.EventTables() {
				names = append(names, string(et.Kind))
			}
			return p, fmt.Errorf("unknown --kind %q: want one of %s (or a table name)", k, strings.Join(names, ", "))
		}
		seen[et] = true
	}
	for _, et := range storage.EventTables() { // registry order
		if seen[et] {
			p.tables = append(p.tables, et)
		}
	}
	return p, nil
}

func (o *exportOptions) run(ctx context.Context) error {
	p, err := o.plan()
	if err != nil {
		return &exitError{exitUsage, err}
	}
	db, err := storage.OpenReadOnly(o.db)
	if err != nil {
		return &exitError{exitFailure, err}
	}
	defer db.Close()
	if err := db.CheckExportable(ctx); err != nil {
		return &exitError{exitFailure, db.Explain(err)}
	}
	prog := o.newProgress()
	switch o.format {
	case "jsonl":
		err = o.jsonl(ctx, db, p, prog)
	case "csv":
		err = o.eachTable(ctx, db, p, prog, ".csv", writeCSV)
	case "parquet":
		err = o.eachTable(ctx, db, p, prog, ".parquet", writeParquet)
	case "xml":
		err = o.xml(ctx, db, p, prog)
	}
	prog.finish(err == nil)
	if err != nil && ctx.Err() != nil {
		return &exitError{exitFailure, fmt.Errorf("export interrupted; the unfinished file was removed (finished ones are kept)")}
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if err != nil {
		return &exitError{exitFailure, db.Explain(err)}
	}
	return nil
}

// jsonl writes every selected table's rows as canonical JSON lines.
func (o *exportOptions) jsonl(ctx context.Context, db *storage.DB, p exportPlan, prog *progress) error {
	out, commit, abort, err := o.outFile()
	if err != nil {
		return err
	}
	defer abort()
	bw := bufio.NewWriterSize(out, 256<<10)
	var line []byte
	for _, et := range p.tables {
		prog.table = et.Name
		err := db.ScanEvents(ctx, et.Table, p.filter, func(row []any) error {
			line = et.AppendJSON(line[:0], row)
			line = append(line, '\n')
			prog.add()
			_, err := bw.Write(line)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return commit()
}

// outFile opens the jsonl output: stdout for "" and "-", else a
// temporary file beside -o that commit renames into place.
func (o *exportOptions) outFile() (w io.Writer, commit func() error, abort func(), err error) {
	if o.out == "" || o.out == "-" {
		return o.stdout, func() error { return nil }, func() {}, nil
	}
	f, err := createAtomic(o.out)
	if err != nil {
		return nil, nil, nil, err
	}
	return f, f.commit, f.abort, nil
}

// outDir is the directory for csv, xml and parquet, created if needed.
func (o *exportOptions) outDir() (string, error) {
	dir := o.out
	if dir == "" || dir == "-" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// tableWriter writes one table's selected rows to w.
type tableWriter func(ctx context.Context, db *storage.DB, et *storage.EventTable, f storage.ExportFilter, w io.Writer, prog *progress) error

// eachTable writes one file per selected table, <dir>/<table><ext>.
func (o *exportOptions) eachTable(ctx context.Context, db *storage.DB, p exportPlan, prog *progress, ext string, write tableWriter) error {
	dir, err := o.outDir()
	if err != nil {
		return err
	}
	for _, et := range p.tables {
		prog.table = et.Name
		f, err := createAtomic(filepath.Join(dir, et.Name+ext))
		if err != nil {
			return err
		}
		if err := write(ctx, db, et, p.filter, f, prog); err != nil {
			f.abort()
			return fmt.Errorf("%s: %w", et.Name, err)
		}
		if err := f.commit(); err != nil {
			return err
		}
	}
	return nil
}

// writeCSV writes one table as RFC 4180 CSV: a header row of the
// registry's column names, then one record per row; integers as
// digits, NULL as an empty field, text as stored but valid UTF-8.
func writeCSV(ctx context.Context, db *storage.DB, et *storage.EventTable, f storage.ExportFilter, w io.Writer, prog *progress) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(et.ColumnNames()); err != nil {
		return err
	}
	rec := make([]string, len(et.Columns))
	var num []byte
	err := db.ScanEvents(ctx, et.Table, f, func(row []any) error {
		for i, v := range row {
			switch v := v.(type) {
			case int64:
				num = strconv.AppendInt(num[:0], v, 10)
				rec[i] = string(num)
			case string:
				rec[i] = validUTF8(v)
			case []byte:
				rec[i] = validUTF8(string(v))
			default:
				rec[i] = ""
			}
		}
		prog.add()
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// atomicFile is a file written under a temporary name in its final
// directory and renamed into place by commit; abort (a no-op after
// commit) removes it.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

func (f *atomicFile) commit() error {
	if f.done {
		return nil
	}
	f.done = true
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), f.path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func (f *atomicFile) abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// progress reports rows exported on stderr: on a terminal one line
// redrawn at most every 200 ms; otherwise a line every `every` rows.
// Not safe for concurrent use (export is one goroutine).
type progress struct {
	name  string // "export", "reparse"
	w     io.Writer
	tty   bool
	every int64
	off   bool
	table string
	n     int64
	start time.Time
	last  time.Time
	drawn bool
}

func (o *exportOptions) newProgress() *progress {
	return &progress{name: "export", w: o.stderr, tty: o.tty, every: o.progressEvery, off: o.quiet || (!o.tty && o.progressEvery <= 0),
		start: time.Now()}
}

// add counts one row.
func (p *progress) add() {
	p.n++
	if p.off {
		return
	}
	if p.tty {
		if p.n%1024 != 0 {
			return
		}
		if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
			p.last = now
			fmt.Fprintf(p.w, "\r%s: %d rows (%s), %.0f rows/s   ", p.name, p.n, p.table, p.rate(now))
			p.drawn = true
		}
		return
	}
	if p.n%p.every == 0 {
		fmt.Fprintf(p.w, "%s: %d rows (%s), %.0f rows/s\n", p.name, p.n, p.table, p.rate(time.Now()))
		p.drawn = true
	}
}

func (p *progress) rate(now time.Time) float64 {
	s := now.Sub(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.n) / s
}

// finish ends the progress display with a total line (when it drew
// anything, or on a terminal).
func (p *progress) finish(ok bool) {
	if p.off {
		return
	}
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	if ok && (p.tty || p.drawn) {
		now := time.Now()
		fmt.Fprintf(p.w, "%s: %d rows in %s (%.0f rows/s)\n", p.name, p.n, now.Sub(p.start).Round(time.Millisecond), p.rate(now))
	}
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
