package collector

import (
	"strconv"
	"testing"
)

// TestMsgIDsRemember: an id is remembered for at least half of
// msgIDMemory, forgotten after msgIDMemory, and a flood of ids keeps the
// set bounded.
func TestMsgIDsRemember(t *testing.T) {
	var r msgIDs
	w := msgIDMemory.Milliseconds()
	const t0 = 1_700_000_000_000
	if r.seenBefore("a", t0) {
		t.Fatal("a new id seen before")
	}
	if !r.seenBefore("a", t0+1) {
		t.Fatal("an id received 1 ms ago not remembered")
	}
	if r.seenBefore("b", t0+w/2) || !r.seenBefore("a", t0+w/2+1) {
		t.Fatal("after a half of msgIDMemory: b new, a still remembered")
	}
	if !r.seenBefore("b", t0+w) {
		t.Fatal("b forgotten after half of msgIDMemory")
	}
	if r.seenBefore("c", t0+2*w) || r.seenBefore("a", t0+2*w) {
		t.Fatal("a remembered after twice msgIDMemory")
	}
	// an idle room: after a long silence the old ids go at once
	if r.seenBefore("d", t0+10*w) || r.seenBefore("c", t0+10*w) {
		t.Fatal("c remembered after a long silence")
	}
	for i := range 10 * msgIDMax {
		r.seenBefore(strconv.Itoa(i), t0+10*w+1)
	}
	if n := len(r.cur) + len(r.prev); n > msgIDMax {
		t.Errorf("%d ids held after a flood, want at most %d", n, msgIDMax)
	}
	if !r.seenBefore(strconv.Itoa(10*msgIDMax-1), t0+10*w+2) {
		t.Error("the flood's last id not remembered")
	}
}
