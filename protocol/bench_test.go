package protocol_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/protocol"
)

var texts = []string{"还不睡吗", "哈哈哈哈哈哈", "主播好厉害", "？？？", "来了来了", "草", "awsl", "这波可以", "晚上好", "1111111", "好耶", "主播唱一首吧[热]"}

// danmakuBundles returns n brotli bundles (ver 3, op 5) of per DANMU_MSG
// messages each, shaped like the real 2025–2026 messages, with distinct
// users, texts and ids so compression sees realistic variety.
func danmakuBundles(tb testing.TB, n, per int) [][]byte {
	return danmakuBundlesVer(tb, n, per, protocol.VerBrotli)
}

// danmakuBundlesVer is danmakuBundles compressed as ver (VerBrotli, as
// protover 3 gets, or VerZlib, as protover 2 gets).
func danmakuBundlesVer(tb testing.TB, n, per int, ver uint16) [][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	for i := 0; i < n; i++ {
		var inner []byte
		for j := 0; j < per; j++ {
			uid := rng.Int64N(4e15)
			d := livesim.Danmaku{
				User: livesim.User{UID: uid, Name: fmt.Sprintf("用户%d", uid%100000), UserLevel: rng.Int64N(40),
					MedalLevel: rng.Int64N(30), MedalName: "希多士", MedalOwner: "希月萌奈", MedalRoom: 22889484, MedalRUID: 591892279, Wealth: rng.Int64N(40)},
				Text:  texts[rng.IntN(len(texts))],
				IDStr: fmt.Sprintf("%016x%016x%04x", rng.Uint64(), rng.Uint64(), rng.Uint32()&0xffff),
				TsMs:  1743186597724 + int64(i*per+j), Rnd: rng.Int64(), Color: 16777215,
			}
			inner = protocol.AppendPacket(inner, protocol.VerJSON, protocol.OpMessage, 0, livesim.AppendDanmaku(nil, &d))
		}
		var z bytes.Buffer
		var w io.WriteCloser = brotli.NewWriterLevel(&z, brotli.DefaultCompression)
		if ver == protocol.VerZlib {
			w = zlib.NewWriter(&z)
		}
		w.Write(inner)
		w.Close()
		out = append(out, protocol.EncodePacket(ver, protocol.OpMessage, 0, z.Bytes()))
	}
	return out
}

// BenchmarkDecodeBrotliDanmaku measures whole-message decoding (brotli
// inflate + framing + DANMU_MSG JSON into typed events) on one core.
// Metric msgs/s is DANMU_MSG messages per second.
func BenchmarkDecodeBrotliDanmaku(b *testing.B) {
	for _, per := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("per=%d", per), func(b *testing.B) {
			bundles := danmakuBundles(b, 64, per)
			var fd protocol.FrameDecoder
			var evs []protocol.Event
			var in int
			for _, m := range bundles {
				in += len(m)
			}
			b.SetBytes(int64(in / len(bundles)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var errs []error
				evs, errs = fd.DecodeMessage(evs[:0], bundles[i%len(bundles)], 1)
				if len(errs) > 0 || len(evs) != per {
					b.Fatalf("decode: %v, %d events", errs, len(evs))
				}
			}
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkInflateOnly isolates the brotli cost from JSON decoding.
func BenchmarkInflateOnly(b *testing.B) {
	bundles := danmakuBundles(b, 64, 10)
	var d protocol.Decoder
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = d.DecodeMessage(bundles[i%len(bundles)], func(*protocol.Packet) error { return nil })
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkInflatePerFrame: the decompression cost per message when a
// frame carries 1 or 10 messages (at 10,000 rooms most frames carry 1–2),
// brotli (protover 3, what the web client asks for) against zlib
// (protover 2, still accepted): framing only, no JSON.
func BenchmarkInflatePerFrame(b *testing.B) {
	for _, c := range []struct {
		name string
		ver  uint16
	}{{"brotli", protocol.VerBrotli}, {"zlib", protocol.VerZlib}} {
		for _, per := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/per=%d", c.name, per), func(b *testing.B) {
				bundles := danmakuBundlesVer(b, 64, per, c.ver)
				var d protocol.Decoder
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := d.DecodeMessage(bundles[i%len(bundles)], func(*protocol.Packet) error { return nil }); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per)/1000, "µs/msg")
			})
		}
	}
}
