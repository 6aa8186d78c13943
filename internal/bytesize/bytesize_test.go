package bytesize

import (
	"testing"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "400MiB": 400 << 20, "2GiB": 2 << 30, "2gib": 2 << 30,
		"1.5GB": 1_500_000_000, "64 KiB": 64 << 10, "4EiB": 1 << 62,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0MiB", "-1", "lots", "5EiB", "1ZB"} {
		if got, err := Parse(in); err == nil || err.Error() != "want a size such as 400MiB or 2GiB" {
			t.Errorf("Parse(%q) = %d, %v; want the size error", in, got, err)
		}
	}
}

// TestFlag: the flag sets its int64, keeps it on a bad value, prints 0
// as no default and others in IEC units.
func TestFlag(t *testing.T) {
	var v int64
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Var(Flag{P: &v}, "memory-limit", "")
	f := fs.Lookup("memory-limit")
	if f.DefValue != "" || f.Value.Type() != "size" {
		t.Errorf("default %q, type %q; want no default and size", f.DefValue, f.Value.Type())
	}
	if err := fs.Parse([]string{"--memory-limit", "400MiB"}); err != nil || v != 400<<20 || f.Value.String() != "400 MiB" {
		t.Fatalf("set 400MiB: %v, value %d, prints %q", err, v, f.Value.String())
	}
	if err := fs.Parse([]string{"--memory-limit", "0"}); err == nil || v != 400<<20 {
		t.Errorf("set 0: %v, value %d; want an error and the value kept", err, v)
	}
}
