// Package profiling writes runtime/pprof profiles to files for the
// hidden --cpuprofile and --memprofile flags of collect and sim.
package profiling

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// Start starts a CPU profile written to cpuPath ("" = none). The returned
// stop ends it and then writes an allocation profile (everything
// allocated since the program started, sampled) to memPath ("" = none);
// its error is that write's. Call stop once.
func Start(cpuPath, memPath string) (stop func() error, err error) {
	stopCPU := func() {}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stopCPU = func() { pprof.StopCPUProfile(); f.Close() }
	}
	return func() error {
		stopCPU()
		if memPath == "" {
			return nil
		}
		return Write(memPath, "allocs")
	}, nil
}

// Write writes the named runtime/pprof profile ("heap", "allocs", …) to
// path, after a garbage collection so that it is current.
func Write(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	err = pprof.Lookup(name).WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
