package protocol

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// graceConn is a connection whose reads do not fail for a deadline that
// passed while data was waiting. Go checks a read's deadline before it
// reads: a reader the scheduler left idle past its deadline (a starved
// machine) gets a timeout although the server sent frames, and a
// connection called stalled then loses what the kernel held for it. Such
// a read is tried once more with grace from now: waiting data is
// returned, and a silent server still times out, grace later. A
// deadline set in the past (to interrupt a read on purpose) is obeyed at
// once. Safe for concurrent use as a net.Conn is.
type graceConn struct {
	net.Conn
	grace time.Duration
	retry atomic.Bool // the last read deadline was in the future when set
}

// graceDial wraps dial's connections in graceConn.
func graceDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), grace time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &graceConn{Conn: c, grace: grace}, nil
	}
}

func (c *graceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return n, err
	}
	if !c.retry.Swap(false) { // once per deadline
		return n, err
	}
	if derr := c.Conn.SetReadDeadline(time.Now().Add(c.grace)); derr != nil {
		return n, err
	}
	return c.Conn.Read(p)
}

func (c *graceConn) SetReadDeadline(t time.Time) error {
	c.setGrace(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *graceConn) SetDeadline(t time.Time) error {
	c.setGrace(t)
	return c.Conn.SetDeadline(t)
}

func (c *graceConn) setGrace(t time.Time) {
	c.retry.Store(!t.IsZero() && t.After(time.Now()))
}
