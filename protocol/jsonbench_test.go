package protocol_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/danmakud/danmakud/protocol"
)

// danmakuBodies returns n DANMU_MSG JSON bodies (the inner packets of
// danmakuBundles without their headers).
func danmakuBodies(tb testing.TB, n int) [][]byte {
	var out [][]byte
	for _, p := range danmakuBundles(tb, n, 1) {
		in, err := io.ReadAll(brotli.NewReader(bytes.NewReader(p[protocol.HeaderLen:])))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, in[protocol.HeaderLen:])
	}
	return out
}

// BenchmarkDanmakuJSON measures command decoding alone (no inflate), with
// and without the DANMU_MSG fast path.
func BenchmarkDanmakuJSON(b *testing.B) {
	bodies := danmakuBodies(b, 64)
	for _, slow := range []bool{false, true} {
		name := "fast"
		if slow {
			name = "general"
		}
		b.Run(name, func(b *testing.B) {
			var cd protocol.CommandDecoder
			cd.SetSlowOnly(slow)
			var evs []protocol.Event
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				evs, _ = cd.Decode(evs[:0], bodies[i%len(bodies)], 1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
