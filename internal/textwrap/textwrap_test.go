package textwrap

import (
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	for _, c := range []struct {
		s     string
		width int
		want  []string
	}{
		{"a bb ccc dddd", 6, []string{"a bb", "ccc", "dddd"}},
		{"a bb ccc dddd", 8, []string{"a bb ccc", "dddd"}},
		{"一二 三四五 六", 6, []string{"一二 三四五", "六"}}, // runes, not bytes
		{"short \t text\n", 80, []string{"short text"}},
		{"averyverylongword x", 5, []string{"averyverylongword", "x"}},
		{"  ", 10, []string{""}},
	} {
		if got := Lines(c.s, c.width); !slices.Equal(got, c.want) {
			t.Errorf("Lines(%q, %d) = %q, want %q", c.s, c.width, got, c.want)
		}
	}
}

func TestHanging(t *testing.T) {
	if got, want := Hanging("  csv   ", "one row per event with a header", 12), "  csv   one row per\n        event with a\n        header\n"; got != want {
		t.Errorf("Hanging = %q, want %q", got, want)
	}
	if got, want := Hanging("", "a bb ccc", 4), "a bb\nccc\n"; got != want {
		t.Errorf("no indent: %q, want %q", got, want)
	}
	if got, want := Hanging("• ", "", 10), "• \n"; got != want {
		t.Errorf("nothing to wrap: %q, want %q", got, want)
	}
}
