package protocol_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// BenchmarkCommandJSON measures command decoding alone (no inflate) for
// the commands other than DANMU_MSG (BenchmarkDanmakuJSON has those):
// every captured sample of another command in turn, and the protobuf
// SEND_GIFT_V2 (two gift_list items).
func BenchmarkCommandJSON(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	var samples [][]byte
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "DANMU_MSG") {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, body)
	}
	if len(samples) < 40 {
		b.Fatalf("%d samples", len(samples))
	}
	for _, c := range []struct {
		name   string
		bodies [][]byte
	}{{"samples", samples}, {"SEND_GIFT_V2", [][]byte{sendGiftV2(b)}}} {
		b.Run(c.name, func(b *testing.B) {
			var cd protocol.CommandDecoder
			var evs []protocol.Event
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				evs, err = cd.Decode(evs[:0], c.bodies[i%len(c.bodies)], 1)
				if err != nil || len(evs) == 0 {
					b.Fatalf("decode: %v, %d events", err, len(evs))
				}
			}
		})
	}
}
