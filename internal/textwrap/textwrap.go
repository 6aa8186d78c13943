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
