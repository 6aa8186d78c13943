// Package textwrap breaks prose into lines for help text.
package textwrap

import "strings"

// Lines breaks s into lines of at most width runes at runs of white
// space, which it collapses to one space; a word longer than width gets
// a line of its own. An s of only white space gives one empty line.
func Lines(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

// Hanging wraps s (Lines) so that each line, with its indent, is at
// most len(first)+width runes: the first line starts with first, the
// others with as many spaces as first has runes. Every line ends with a
// newline. Hanging("  jsonl    ", doc, 68) is an entry of a list of
// terms; Hanging("", p, 79) a plain paragraph.
func Hanging(first, s string, width int) string {
	var b strings.Builder
	indent := strings.Repeat(" ", len([]rune(first)))
	for i, l := range Lines(s, width) {
		if i == 0 {
			b.WriteString(first)
		} else {
			b.WriteString(indent)
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
