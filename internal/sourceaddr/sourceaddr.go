// Package sourceaddr binds outgoing connections to one local address
// (collect --source-addr): the one dialer the HTTP client and the danmaku
// connections share, and the check that an address is this machine's.
package sourceaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Parse reads an IPv4 or IPv6 address (an IPv6 zone, "fe80::1%eth0", is
// kept) and checks it with Check. It refuses a host:port, a name or a
// range.
func Parse(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address (want e.g. 192.0.2.10 or 2001:db8::10)", s)
	}
	return a, Check(a)
}

// Check reports whether a is an address outgoing connections can be made
// from: a unicast address of this machine (the kernel accepts a socket
// bound to it; on Linux every 127.0.0.0/8 address is one). It binds a
// TCP listener to port 0 of a and closes it at once.
func Check(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("no address")
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address: give one address of this machine", a)
	case a.IsMulticast():
		return fmt.Errorf("%s is a multicast address", a)
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		return fmt.Errorf("%s is not an address of this machine (cannot bind to it: %w)", a, unwrapOp(err))
	}
	ln.Close()
	return nil
}

// unwrapOp drops net.OpError's "listen tcp …:" prefix, which repeats the
// address.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Dialer returns a dialer whose connections leave from a (the kernel
// picks the port), with the timeouts and keep-alive of Go's default HTTP
// transport. The zero Addr gives a dialer that binds nothing. Name
// resolution keeps only addresses of a's family, so an IPv4 source
// never tries an IPv6 destination.
func Dialer(a netip.Addr) *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if a.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone()}
	}
	return d
}
