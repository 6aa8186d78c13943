// Package bytesize reads and prints byte counts as people write them
// (400MiB, 2GiB, 1.5GB, 1048576), with go-humanize's rules, for flags
// such as collect's --memory-limit and --journal-max.
package bytesize

import (
	"errors"

	"github.com/dustin/go-humanize"
)

// Max is the largest size Parse accepts, 2^62 bytes: beyond any machine,
// and two such sizes still add up within an int64.
const Max = 1 << 62

// errSize is Parse's one error; pflag puts the flag and the value before
// it.
var errSize = errors.New("want a size such as 400MiB or 2GiB")

// Parse reads a size in bytes: a number (a fraction too) with an
// optional unit, SI (kB, MB, GB: powers of 1000) or IEC (KiB, MiB, GiB:
// powers of 1024), any case, a space allowed before the unit. Zero,
// anything over Max and anything else are an error.
func Parse(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > Max {
		return 0, errSize
	}
	return int64(n), nil
}

// Flag is a flag (a pflag.Value) that sets *P to a size read by Parse.
// A flag whose *P is 0 prints as "", so that the help shows no default
// (the flag's text says what 0 means); any other value prints in IEC
// units ("400 MiB").
type Flag struct{ P *int64 }

// String prints the flag's value.
func (f Flag) String() string {
	if f.P == nil || *f.P == 0 {
		return ""
	}
	return humanize.IBytes(uint64(*f.P))
}

// Set reads s with Parse; *P is left as it was on an error.
func (f Flag) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	*f.P = n
	return nil
}

// Type names the flag's kind in help text.
func (Flag) Type() string { return "size" }
