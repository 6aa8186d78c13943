package storage

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMergeProgress: Progress counts the rows read over all inputs, so
// that it never goes back when the next input starts, and ends at
// MergeResult.Read.
func TestMergeProgress(t *testing.T) {
	dir := t.TempDir()
	a, b, out := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "out.db")
	writeShard(t, a, shardFile{shard: "0/2", rooms: []int64{1, 2}, keys: "k", t0: 1_800_000_000_000, n: 9})
	writeShard(t, b, shardFile{shard: "1/2", rooms: []int64{3}, keys: "k", t0: 1_800_000_000_000, n: 9})
	var last int64
	inputs := map[string]bool{}
	res, err := Merge(context.Background(), out, []string{a, b}, MergeOptions{ChunkRows: 5,
		Progress: func(input, table string, rows int64) {
			if rows <= last {
				t.Errorf("%s %s: %d rows after %d", input, table, rows, last)
			}
			last = rows
			inputs[input] = true
		}})
	if err != nil {
		t.Fatal(err)
	}
	if last != res.Read || res.Inputs[0].Read == 0 || res.Inputs[1].Read == 0 || !inputs[a] || !inputs[b] {
		t.Errorf("last progress %d, read %d (%d + %d), inputs reported %v", last, res.Read, res.Inputs[0].Read, res.Inputs[1].Read, inputs)
	}
}
