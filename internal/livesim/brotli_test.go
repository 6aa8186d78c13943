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
			e.maxMeta = meta
			got, err := brDecode(e.encode(nil, in))
			if err != nil {
				t.Errorf("%s (meta-blocks of %d): %v", name, meta, err)
			} else if !bytes.Equal(got, in) {
				t.Errorf("%s (meta-blocks of %d): decoded %d bytes, not the %d encoded", name, meta, len(got), len(in))
			}
		}
	}
}

// TestBrotliCompresses: a simulated bundle comes out at most half as
// large as it went in (a general encoder at quality 1 does ~5×).
func TestBrotliCompresses(t *testing.T) {
	in := simBundle(40, 3)
	out := newBrEncoder().encode(nil, in)
	if len(out)*2 > len(in) {
		t.Fatalf("%d bytes compressed to %d", len(in), len(out))
	}
	t.Logf("%d → %d bytes (%.1f×)", len(in), len(out), float64(len(in))/float64(len(out)))
}

// simBundle is a full-variant bundle of n generated events.
func simBundle(n int, seed uint64) []byte {
	b, _ := simBundleParsed(n, seed)
	return b
}

// simBundleParsed is simBundle and the parse the writer made of it.
func simBundleParsed(n int, seed uint64) ([]byte, []brCmd) {
	s := &Sim{opts: Options{Rooms: 1, Seed: seed, RedPocketEvery: -1}, byID: map[int64]*room{}}
	s.opts.setDefaults()
	s.buildRooms()
	x := newShard(s, 0)
	r := s.rooms[0]
	b := &batch{room: r}
	x.b = b
	now := time.Now()
	for range n {
		x.gen(r, b, now, true, false)
	}
	return x.full, nil
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

func BenchmarkBrotliOne(b *testing.B) {
	in := simBundle(1, 4)
	e := newBrEncoder()
	e.staticMax = 0
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = e.encode(out[:0], in)
	}
}

func BenchmarkBrotli40(b *testing.B) {
	in := simBundle(400, 4)
	e := newBrEncoder()
	var out []byte
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = e.encode(out[:0], in)
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
