package progress

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStartLine: each tick redraws the line in place; stop ends it with
// one newline and waits, and a second stop is harmless.
func TestStartLine(t *testing.T) {
	var b bytes.Buffer
	twice := make(chan struct{})
	n := 0
	stop := StartLine(t.Context(), &b, time.Millisecond, func(time.Time) string {
		n++
		if n == 2 {
			close(twice)
		}
		return fmt.Sprintf("tick %d  ", n)
	})
	<-twice
	stop()
	stop()
	got := b.String()
	if !strings.HasPrefix(got, "\rtick 1  \rtick 2  ") || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("line %q", got)
	}
}

// TestStartLineContext: the caller's context ending ends the line too,
// before any tick.
func TestStartLineContext(t *testing.T) {
	var b bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	stop := StartLine(ctx, &b, time.Hour, func(time.Time) string { return "never" })
	cancel()
	stop()
	if b.String() != "\n" {
		t.Errorf("line %q, want only the newline", b.String())
	}
}
