package livesim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
)

// TestPublishAndStop: the address file holds the base URL, the
// certificate file the certificate, and Stop leaves the truth as JSON.
func TestPublishAndStop(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2})
	dir := t.TempDir()
	addr, cert, truth := filepath.Join(dir, "sim.addr"), filepath.Join(dir, "sim.pem"), filepath.Join(dir, "truth.json")
	if err := s.Publish(addr, cert); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(addr); err != nil || string(b) != s.URL()+"\n" {
		t.Errorf("address file %q, %v; want %q", b, err, s.URL()+"\n")
	}
	if b, err := os.ReadFile(cert); err != nil || !bytes.Equal(b, s.CertPEM()) {
		t.Errorf("certificate file: %v, %d bytes; want the %d of CertPEM", err, len(b), len(s.CertPEM()))
	}
	if err := s.Publish("", ""); err != nil {
		t.Errorf("nothing to publish: %v", err)
	}
	if err := s.Stop(truth); err != nil {
		t.Fatal(err)
	}
	var tr map[string]any
	if b, err := os.ReadFile(truth); err != nil || json.Unmarshal(b, &tr) != nil || tr["rooms"] == nil {
		t.Errorf("truth file: %v, %v", err, tr)
	}
}

// lineWriter keeps what is written and closes two once it holds two
// lines. One goroutine writes; String is read after it stopped.
type lineWriter struct {
	b   bytes.Buffer
	two chan struct{}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n, err := l.b.Write(p)
	if strings.Count(l.b.String(), "\n") >= 2 && l.two != nil {
		close(l.two)
		l.two = nil
	}
	return n, err
}

// TestReportStats: a totals line every interval until ctx ends; none
// without an interval.
func TestReportStats(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1})
	two := make(chan struct{})
	out := &lineWriter{two: two}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ReportStats(ctx, out, time.Millisecond)
	}()
	<-two
	cancel()
	<-done
	lines := strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "sim: conns=0 generated=") || !strings.Contains(lines[0], " violations=0") {
		t.Errorf("lines %q", lines)
	}
	var none bytes.Buffer
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	s.ReportStats(ctx, &none, 0)
	if none.Len() != 0 {
		t.Errorf("no interval, yet %q", none.String())
	}
}
