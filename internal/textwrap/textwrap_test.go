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
