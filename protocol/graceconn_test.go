package protocol

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// gracePair is a graceConn dialled to a loopback listener, and the
// server's end.
func gracePair(t *testing.T) (*graceConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := graceDial((&net.Dialer{}).DialContext, time.Second)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c.(*graceConn), srv
}

// TestGraceConnReadsWaitingData: a read whose deadline passed while the
// reader was away still returns the data the server sent; a deadline set
// in the past on purpose interrupts at once; a silent server times out.
func TestGraceConnReadsWaitingData(t *testing.T) {
	buf := make([]byte, 16)
	t.Run("late reader", func(t *testing.T) {
		c, srv := gracePair(t)
		if _, err := srv.Write([]byte("frame")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Hour)) // the stall deadline …
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))      // … passed while the reader was away
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "frame" {
			t.Fatalf("read %q, %v; want the waiting frame", buf[:n], err)
		}
	})
	t.Run("interrupted on purpose", func(t *testing.T) {
		c, srv := gracePair(t)
		if _, err := srv.Write([]byte("frame")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Unix(1, 0))
		if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %q, %v; want the deadline's error", buf[:n], err)
		}
	})
	t.Run("silent server", func(t *testing.T) {
		c, _ := gracePair(t)
		_ = c.SetReadDeadline(time.Now().Add(time.Hour))
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
		if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %q, %v; want a timeout after the grace", buf[:n], err)
		}
	})
}
