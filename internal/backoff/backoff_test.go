package backoff

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDoublesToTheCapAndResets(t *testing.T) {
	b := New(time.Second, 5*time.Second, nil)
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Errorf("after Reset: %v, want the minimum", d)
	}
	if d := b.Jitter(4 * time.Second); d != 4*time.Second {
		t.Errorf("Jitter without an rng changed the wait: %v", d)
	}
}

func TestJitterStaysWithinHalfToFull(t *testing.T) {
	b := New(time.Second, time.Minute, rand.New(rand.NewPCG(1, 2)))
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := b.Jitter(10 * time.Second)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 5*time.Second || hi > 10*time.Second || hi-lo < 4*time.Second {
		t.Errorf("jittered waits span [%v, %v], want spread over [5s, 10s]", lo, hi)
	}
}

func TestMaxBelowMinIsMin(t *testing.T) {
	b := New(3*time.Second, time.Second, nil)
	if first, second := b.Next(), b.Next(); first != 3*time.Second || second != 3*time.Second {
		t.Error("a cap below the minimum should hold the wait at the minimum")
	}
}
