package livesim

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

func brDecode(stream []byte) ([]byte, error) {
	return io.ReadAll(brotli.NewReader(bytes.NewReader(stream)))
}

// TestBrotliRoundTrip: whatever the input (empty, tiny, random bytes,
// long runs, simulated bundles, several meta-blocks), the stream decodes
// to it.
func TestBrotliRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	words := func(n int) []byte {
		var b []byte
		for len(b) < n {
			b = append(b, texts[rng.IntN(len(texts))]...)
			b = append(b, `,"uid":`...)
			b = appendInt(b, rng.Int64N(1e6))
		}
		return b[:n]
	}
	inputs := map[string][]byte{
		"empty": nil, "one": {7}, "eight": []byte("12345678"), "nine": []byte("123456789"),
		"zeros": make([]byte, 100000), "random 1k": random(1000), "random 200k": random(200000),
		"words 70k": words(70000), "bundle": simBundle(40, 1), "big bundle": simBundle(2000, 2),
	}
	e := newBrEncoder()
	for name, in := range inputs {
		for _, meta := range []int{brMaxMetaBlock, 1000} {
			for _, static := range []int{brStaticMax, 0} { // 0: codes built for every frame
				e.maxMeta, e.staticMax = meta, static
				got, err := brDecode(e.encode(nil, in))
				if err != nil {
					t.Errorf("%s (meta-blocks of %d, static codes up to %d): %v", name, meta, static, err)
				} else if !bytes.Equal(got, in) {
					t.Errorf("%s (meta-blocks of %d, static codes up to %d): decoded %d bytes, not the %d encoded", name, meta, static, len(got), len(in))
				}
			}
		}
	}
}

// TestBrotliCompresses: over simulated bundles of 1 to 40 events, the
// output is within 12 % of andybalholm/brotli at quality 1 (the static
// codes of small bundles cost a little size; large ones come out about
// the same).
func TestBrotliCompresses(t *testing.T) {
	e := newBrEncoder()
	for _, n := range []int{1, 2, 4, 12, 40} {
		var ours, q1 int
		for seed := range uint64(20) {
			in := simBundle(n, seed+1)
			ours += len(e.encode(nil, in))
			var buf bytes.Buffer
			w := brotli.NewWriterLevel(&buf, 1)
			w.Write(in)
			w.Close()
			q1 += buf.Len()
		}
		if ours*100 > q1*112 {
			t.Errorf("%d-event bundles: %d bytes, quality 1 %d", n, ours, q1)
		}
	}
}

// simBundle is a full-variant bundle of n generated events.
func simBundle(n int, seed uint64) []byte {
	s := &Sim{opts: Options{Rooms: 1, Seed: seed, RedPocketEvery: -1}, byID: map[int64]*room{}}
	s.opts.setDefaults()
	s.buildRooms()
	x := newShard(s, 0)
	r := s.rooms[0]
	b := &batch{room: r}
	x.b = b
	now := time.Date(2026, 1, 1, 20, 0, 0, 0, time.UTC) // the same bundle every run
	for range n {
		x.gen(r, b, now, true, false)
	}
	return x.full
}

func BenchmarkBrotliBundle(b *testing.B) {
	for _, n := range []int{3, 40} {
		in := simBundle(n, 4)
		b.Run(map[int]string{3: "3 events", 40: "40 events"}[n], func(b *testing.B) {
			e := newBrEncoder()
			var out []byte
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				out = e.encode(out[:0], in)
			}
			b.ReportMetric(float64(len(in))/float64(len(out)), "ratio")
		})
		b.Run(map[int]string{3: "3 events q1", 40: "40 events q1"}[n], func(b *testing.B) {
			var buf bytes.Buffer
			w := brotli.NewWriterLevel(nil, 1)
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				buf.Reset()
				w.Reset(&buf)
				w.Write(in)
				w.Close()
			}
			b.ReportMetric(float64(len(in))/float64(buf.Len()), "ratio")
		})
	}
}

func BenchmarkGen(b *testing.B) {
	s := &Sim{opts: Options{Rooms: 1, Seed: 9, RedPocketEvery: -1}, byID: map[int64]*room{}}
	s.opts.setDefaults()
	s.buildRooms()
	x := newShard(s, 0)
	r := s.rooms[0]
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%50 == 0 {
			x.b, x.full, x.anon = &batch{room: r}, x.full[:0], x.anon[:0]
		}
		x.gen(r, x.b, now.Add(time.Duration(i)*time.Millisecond), false, true)
	}
}
