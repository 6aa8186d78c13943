package storage

import (
	"math"
	"testing"
)

// TestCoverageInterval: the Wilson interval holds the share, narrows as
// judged items grow, stays within [0, 1], and scales with the connected
// share.
func TestCoverageInterval(t *testing.T) {
	lo, hi := CoverageInterval(100, 90, 1)
	if !(lo < 0.9 && hi > 0.9) || math.Abs(lo-0.825) > 0.01 || math.Abs(hi-0.945) > 0.01 {
		t.Errorf("90 of 100: [%.3f, %.3f], want about [0.825, 0.945]", lo, hi)
	}
	lo2, hi2 := CoverageInterval(1000, 900, 1)
	if hi2-lo2 >= hi-lo {
		t.Errorf("1000 items: width %.3f not below 100 items' %.3f", hi2-lo2, hi-lo)
	}
	if lo, hi := CoverageInterval(35, 35, 1); hi != 1 || lo < 0.89 || lo > 0.91 {
		t.Errorf("35 of 35: [%.3f, %.3f], want [≈0.90, 1]", lo, hi)
	}
	if lo, hi := CoverageInterval(100, 90, 0.5); math.Abs(lo-0.4125) > 0.01 || math.Abs(hi-0.4725) > 0.01 {
		t.Errorf("half connected: [%.3f, %.3f]", lo, hi)
	}
	if lo, hi := CoverageInterval(0, 0, 0.8); lo != 0 || hi != 0.8 {
		t.Errorf("nothing judged: [%v, %v], want [0, 0.8]", lo, hi)
	}
	if lo, hi := CoverageInterval(10, 0, 1); lo != 0 || hi <= 0 || hi > 0.35 {
		t.Errorf("0 of 10: [%v, %v]", lo, hi)
	}
}
