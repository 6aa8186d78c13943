package main

import (
	"context"
	"fmt"
	"io"

	"github.com/danmakud/danmakud/storage"
	"github.com/parquet-go/parquet-go"
)

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

// parquetSchema is the table's columns as a flat Parquet schema: INT64
// for INTEGER, UTF-8 BYTE_ARRAY for TEXT (made valid UTF-8: readers
// reject anything else), BYTE_ARRAY for BLOB, optional
// where the column may be NULL, zstd-compressed.
func parquetSchema(t *storage.Table) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}, order: map[string]int{}}
	for i, c := range t.Columns {
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
	return parquet.NewSchema(t.Name, g)
}

// writeParquet writes one table as a Parquet file, streaming: rows go
// to the writer in batches and a row group is cut every
// parquetRowGroup rows.
func writeParquet(ctx context.Context, db *storage.DB, et *storage.EventTable, f storage.ExportFilter, w io.Writer, prog *progress) error {
	schema := parquetSchema(et.Table)
	pw := parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(parquetRowGroup),
		parquet.CreatedBy("danmakud", version, ""))
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
	err := db.ScanEvents(ctx, et.Table, f, func(row []any) error {
		vals := backing[len(batch)][:0]
		for i, v := range row {
			def := 0
			if cols[i].Null {
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
				if !cols[i].Null {
					return fmt.Errorf("column %s: NULL in a NOT NULL column", cols[i].Name)
				}
				pv, def = parquet.NullValue(), 0
			}
			vals = append(vals, pv.Level(0, def, i))
		}
		batch = append(batch, vals)
		prog.add()
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
