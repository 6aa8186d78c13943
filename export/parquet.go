package export

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/danmakud/danmakud/storage"
	"github.com/parquet-go/parquet-go"
)

// parquetFormat writes one Parquet file per table.
type parquetFormat struct{}

func (parquetFormat) Name() string { return "parquet" }
func (parquetFormat) ToDir() bool  { return true }

func (parquetFormat) Doc() string {
	return "one file per kind, <table>.parquet in the output directory: INT64 and UTF-8 BYTE_ARRAY columns, " +
		"optional where the column may be NULL, row groups of at most 65,536 rows, zstd. " +
		"pandas, polars and DuckDB read it directly."
}

func (parquetFormat) write(ctx context.Context, j *job) error {
	if j.o.Partition == PartitionDay {
		return writePartitioned(ctx, j)
	}
	return j.eachTable(ctx, ".parquet", writeParquet)
}

// parquetRowGroup bounds the rows a Parquet row group holds, and so the
// memory an export buffers: the writer keeps one row group in memory.
const parquetRowGroup = 64 << 10

// parquetBatch is how many rows are handed to the writer at once.
const parquetBatch = 512

// orderedGroup is a parquet group whose fields keep the registry's
// column order (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group
	order map[string]int
}

func (g orderedGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	out := make([]parquet.Field, len(fields))
	for _, f := range fields {
		out[g.order[f.Name()]] = f
	}
	return out
}

// parquetLeaf is one column of a Parquet file: a column of the table
// as export reads it, or (stamp) the TIMESTAMP beside a time column.
type parquetLeaf struct {
	col   *storage.Column
	src   int // its value's index in a ScanEvents row
	stamp bool
}

// parquetLayout lists et's columns as export reads them (et.Columns),
// each time column (name ending in _ms: unix milliseconds) followed by
// its TIMESTAMP when stamps is set.
func parquetLayout(et *storage.EventTable, stamps bool) []parquetLeaf {
	var out []parquetLeaf
	for i := range et.Columns {
		c := &et.Columns[i]
		out = append(out, parquetLeaf{col: c, src: i})
		if stamps && strings.HasSuffix(c.Name, "_ms") {
			out = append(out, parquetLeaf{col: c, src: i, stamp: true})
		}
	}
	return out
}

// stampName is the name of the TIMESTAMP column beside time column name:
// recv_ms → recv_at.
func stampName(name string) string { return strings.TrimSuffix(name, "_ms") + "_at" }

// parquetSchema is a layout as a flat Parquet schema: INT64 for INTEGER,
// UTF-8 BYTE_ARRAY for TEXT (made valid UTF-8: readers reject anything
// else), BYTE_ARRAY for BLOB, optional where the column may be NULL; a
// stamp is an optional TIMESTAMP (UTC, milliseconds), NULL where the
// time is 0 or NULL (not known); zstd-compressed.
func parquetSchema(name string, layout []parquetLeaf) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}, order: map[string]int{}}
	for i, l := range layout {
		var n parquet.Node
		col := l.col.Name
		switch {
		case l.stamp:
			n, col = parquet.Optional(parquet.Timestamp(parquet.Millisecond)), stampName(col)
		case l.col.Type == "INTEGER":
			n = parquet.Int(64)
		case l.col.Type == "TEXT":
			n = parquet.String()
		default:
			n = parquet.Leaf(parquet.ByteArrayType)
		}
		if l.col.Null && !l.stamp {
			n = parquet.Optional(n)
		}
		g.Group[col] = parquet.Compressed(n, &parquet.Zstd)
		g.order[col] = i
	}
	return parquet.NewSchema(name, g)
}

// parquetSink writes rows of one table into one Parquet file,
// streaming: rows go to the writer in batches, and a row group is cut
// every parquetRowGroup rows (the writer holds one in memory).
type parquetSink struct {
	pw      *parquet.GenericWriter[any]
	layout  []parquetLeaf
	batch   []parquet.Row
	backing [][]parquet.Value // one reused slice of values per batch row
}

func newParquetSink(w io.Writer, j *job, et *storage.EventTable, stamps bool) *parquetSink {
	layout := parquetLayout(et, stamps)
	s := &parquetSink{
		pw: parquet.NewGenericWriter[any](w, parquetSchema(et.Name, layout), parquet.MaxRowsPerRowGroup(parquetRowGroup),
			parquet.CreatedBy("danmakud", j.o.Version, "")),
		layout: layout, batch: make([]parquet.Row, 0, parquetBatch), backing: make([][]parquet.Value, parquetBatch),
	}
	for i := range s.backing {
		s.backing[i] = make([]parquet.Value, len(layout))
	}
	return s
}

// add writes one row (as ScanEvents gives it).
func (s *parquetSink) add(row []any) error {
	vals := s.backing[len(s.batch)][:0]
	for i, l := range s.layout {
		pv, err := parquetValue(&l, i, row[l.src])
		if err != nil {
			return err
		}
		vals = append(vals, pv)
	}
	s.batch = append(s.batch, vals)
	if len(s.batch) == parquetBatch {
		return s.flush()
	}
	return nil
}

func (s *parquetSink) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	if _, err := s.pw.WriteRows(s.batch); err != nil {
		return err
	}
	s.batch = s.batch[:0]
	return nil
}

// close writes what is buffered and the file's footer.
func (s *parquetSink) close() error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.pw.Close()
}

// writeParquet writes one table as a Parquet file.
func writeParquet(ctx context.Context, j *job, et *storage.EventTable, w io.Writer) error {
	s := newParquetSink(w, j, et, false)
	err := j.scan(ctx, et, func(row []any) error {
		j.row()
		return s.add(row)
	})
	if err != nil {
		return err
	}
	return s.close()
}

// parquetValue is one value (as ScanEvents gives it) of leaf l, the
// column of index i, with its definition level.
func parquetValue(l *parquetLeaf, i int, v any) (parquet.Value, error) {
	c := l.col
	if l.stamp {
		if ms, ok := v.(int64); ok && ms != 0 {
			return parquet.Int64Value(ms).Level(0, 1, i), nil
		}
		return parquet.NullValue().Level(0, 0, i), nil
	}
	def := 0
	if c.Null {
		def = 1
	}
	var pv parquet.Value
	switch v := v.(type) {
	case int64:
		pv = parquet.Int64Value(v)
	case string:
		pv = parquet.ByteArrayValue([]byte(validUTF8(v)))
	case []byte:
		pv = parquet.ByteArrayValue(append([]byte(nil), v...))
	case nil:
		if !c.Null {
			return pv, fmt.Errorf("column %s: NULL in a NOT NULL column", c.Name)
		}
		pv, def = parquet.NullValue(), 0
	}
	return pv.Level(0, def, i), nil
}
