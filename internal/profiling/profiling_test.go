package profiling

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartWrites(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	stop, err := Start(cpu, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cpu, mem} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v, %v", p, fi, err)
		}
	}
	// Nothing asked, nothing written.
	stop, err = Start("", "")
	if err != nil || stop() != nil {
		t.Errorf("no profiles: %v", err)
	}
	if err := Write(filepath.Join(dir, "missing", "heap.pprof"), "heap"); err == nil {
		t.Error("a profile into a missing directory did not fail")
	}
}
