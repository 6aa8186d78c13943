package export

import (
	"context"
	"fmt"
	"io"

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

// parquetSchema is the table's columns as export reads them (et.Columns)
// as a flat Parquet schema: INT64
// for INTEGER, UTF-8 BYTE_ARRAY for TEXT (made valid UTF-8: readers
// reject anything else), BYTE_ARRAY for BLOB, optional
// where the column may be NULL, zstd-compressed.
func parquetSchema(et *storage.EventTable) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}, order: map[string]int{}}
	for i, c := range et.Columns {
		var n parquet.Node
		switch c.Type {
		case "INTEGER":
			n = parquet.Int(64)
		case "TEXT":
			n = parquet.String()
		default:
			n = parquet.Leaf(parquet.ByteArrayType)
		}
		if c.Null {
			n = parquet.Optional(n)
		}
		g.Group[c.Name] = parquet.Compressed(n, &parquet.Zstd)
		g.order[c.Name] = i
	}
	return parquet.NewSchema(et.Name, g)
}

// writeParquet writes one table as a Parquet file, streaming: rows go
// to the writer in batches and a row group is cut every
// parquetRowGroup rows.
func writeParquet(ctx context.Context, j *job, et *storage.EventTable, w io.Writer) error {
	pw := parquet.NewWriter(w, parquetSchema(et), parquet.MaxRowsPerRowGroup(parquetRowGroup),
		parquet.CreatedBy("danmakud", j.o.Version, ""))
	cols := et.Columns
	batch := make([]parquet.Row, 0, parquetBatch)
	// Values are built into one backing slice per batch row, reused.
	backing := make([][]parquet.Value, parquetBatch)
	for i := range backing {
		backing[i] = make([]parquet.Value, len(cols))
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := pw.WriteRows(batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	err := j.scan(ctx, et, func(row []any) error {
		vals := backing[len(batch)][:0]
		for i, v := range row {
			pv, err := parquetValue(&cols[i], i, v)
			if err != nil {
				return err
			}
			vals = append(vals, pv)
		}
		batch = append(batch, vals)
		j.row()
		if len(batch) == parquetBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

// parquetValue is one column value (as ScanEvents gives it) for column
// index i, with its definition level.
func parquetValue(c *storage.Column, i int, v any) (parquet.Value, error) {
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
