package journal

import (
	"context"
	"testing"
)

// BenchmarkAppendParallel: many readers appending 300-byte frames at
// once, each waiting for its frame to reach the kernel, while a consumer
// reads and releases.
func BenchmarkAppendParallel(b *testing.B) {
	j, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		r := j.NewReader(Pos{})
		defer r.Close()
		n := 0
		for {
			_, p, err := r.Next(ctx)
			if err != nil {
				return
			}
			if n++; n%10000 == 0 {
				j.Release(p)
			}
		}
	}()
	data := make([]byte, 300)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rec := Record{Kind: KindFrame, Room: 1, Data: data}
		for pb.Next() {
			if err := j.Append(&rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	j.Close()
	cancel()
	<-consumed
}
