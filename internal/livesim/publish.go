package livesim

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
)

// What a simulator run outside a test (`danmakud sim`) shares with its
// clients through files: where it listens, the certificate to trust, a
// running total now and then, and the ground truth at the end.

// Publish writes, once s listens, what a client in another process needs
// to reach it: the TLS listener's certificate (CertPEM) to certFile, then
// the base URL and a newline to addrFile, last, so that its appearance
// means the simulator is ready. Each is written atomically
// (internal/atomicfile), mode 0644; "" skips the file.
func (s *Sim) Publish(addrFile, certFile string) error {
	if certFile != "" {
		if err := atomicfile.WriteFile(certFile, s.CertPEM(), 0o644); err != nil {
			return err
		}
	}
	if addrFile != "" {
		return atomicfile.WriteFile(addrFile, []byte(s.URL()+"\n"), 0o644)
	}
	return nil
}

// ReportStats writes a line of running totals (Stats) to w every interval
// until ctx ends, then returns; with interval <= 0 it writes nothing and
// only waits for ctx.
func (s *Sim) ReportStats(ctx context.Context, w io.Writer, interval time.Duration) {
	if interval <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st := s.Stats()
			fmt.Fprintf(w, "sim: conns=%d generated=%d frames=%d msgs=%d dropped=%d corrupt=%d http=%d 412=%d acks=%d violations=%d\n",
				st.ConnsOpen, st.Generated, st.FramesWritten, st.MsgsWritten, st.FramesDropped, st.FramesCorrupt, st.HTTPRequests, st.HTTP412, st.Acks, st.Violations)
		}
	}
}

// Stop closes s (Close) and then, when truthFile is not "", writes the
// ground truth there (WriteTruth): the truth once every connection has
// ended. It returns Close's error, else WriteTruth's.
func (s *Sim) Stop(truthFile string) error {
	err := s.Close()
	if truthFile != "" {
		if werr := s.WriteTruth(truthFile); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
