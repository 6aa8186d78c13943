package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLog(t *testing.T) {
	var b bytes.Buffer
	m := New("export", &b, false, false, 2)
	for n := int64(1); n <= 5; n++ {
		m.Update("danmaku", n)
	}
	m.Finish(true)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "export: 2 rows (danmaku), ") ||
		!strings.HasPrefix(lines[1], "export: 4 rows (danmaku), ") || !strings.HasPrefix(lines[2], "export: 5 rows in ") {
		t.Errorf("lines %q", lines)
	}
}

func TestTerminal(t *testing.T) {
	var b bytes.Buffer
	m := New("reparse", &b, true, false, 0)
	m.Update("raw_messages", 1000) // not a multiple of 1024: no draw
	if b.Len() != 0 {
		t.Fatalf("drew %q", b.String())
	}
	m.Update("raw_messages", 1024)
	if got := b.String(); !strings.HasPrefix(got, "\rreparse: 1024 rows (raw_messages), ") || strings.Contains(got, "\n") {
		t.Fatalf("terminal line %q", got)
	}
	b.Reset()
	m.Finish(false) // failed: the line is cleared, no total
	if b.String() != "\r\033[K" {
		t.Errorf("finish %q", b.String())
	}
}

func TestOff(t *testing.T) {
	var b bytes.Buffer
	for _, m := range []*Meter{New("export", &b, true, true, 1), New("export", &b, false, false, 0)} {
		m.Update("danmaku", 1024)
		m.Finish(true)
	}
	if b.Len() != 0 {
		t.Errorf("a quiet meter printed %q", b.String())
	}
}

// TestIsTerminal: a buffer, a file and a pipe are logs, not terminals.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f, "pipe": w} {
		if IsTerminal(out) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}
