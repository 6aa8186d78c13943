package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"strconv"

	"github.com/danmakud/danmakud/storage"
)

// csvFormat writes one RFC 4180 file per table.
type csvFormat struct{}

func (csvFormat) Name() string { return "csv" }
func (csvFormat) ToDir() bool  { return true }

func (csvFormat) Doc() string {
	return "one RFC 4180 file per kind, <table>.csv in the output directory, header row = the table's columns " +
		"(see the README's data dictionary); integers as digits, NULL as an empty field, text as valid UTF-8 " +
		"(a stored byte that is not becomes U+FFFD, as in jsonl and parquet)."
}

func (csvFormat) write(ctx context.Context, j *job) error {
	return j.eachTable(ctx, ".csv", writeCSV)
}

// writeCSV writes one table as RFC 4180 CSV: a header row of the
// registry's column names, then one record per row; integers as
// digits, NULL as an empty field, text as stored but valid UTF-8.
func writeCSV(ctx context.Context, j *job, et *storage.EventTable, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(et.ColumnNames()); err != nil {
		return err
	}
	rec := make([]string, len(et.Columns))
	var num []byte
	err := j.scan(ctx, et, func(row []any) error {
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
		j.row()
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
