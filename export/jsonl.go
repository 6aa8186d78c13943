package export

import (
	"bufio"
	"context"
	"io"
	"os"

	"github.com/danmakud/danmakud/storage"
)

// jsonlFormat writes one canonical event JSON object per line
// (storage.EventTable.AppendJSON), table after table, into one output.
type jsonlFormat struct{}

func (jsonlFormat) Name() string { return "jsonl" }
func (jsonlFormat) ToDir() bool  { return false }

func (jsonlFormat) Doc() string {
	return "one canonical event JSON object per line (the objects of 'decode', with room_id filled and recv_ms added), " +
		"table after table: " + kindList(storage.EventTables()) + "."
}

func (jsonlFormat) write(ctx context.Context, j *job) error {
	if j.o.Out == "" || j.o.Out == "-" {
		w := j.o.Stdout
		if w == nil {
			w = os.Stdout
		}
		return writeJSONL(ctx, j, w)
	}
	f, err := j.create(j.o.Out)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := writeJSONL(ctx, j, f); err != nil {
		return err
	}
	return j.commit(f)
}

// writeJSONL writes every selected table's rows to w.
func writeJSONL(ctx context.Context, j *job, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	for _, et := range j.tables {
		j.what = et.Name
		err := j.scan(ctx, et, func(row []any) error {
			line = et.AppendJSON(line[:0], row)
			line = append(line, '\n')
			j.row()
			_, err := bw.Write(line)
			return err
		})
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}
