package sourceaddr

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.0.0.2"} { // all of 127.0.0.0/8 is local on Linux
		if a, err := Parse(s); err != nil || a.String() != s {
			t.Errorf("Parse(%q) = %v, %v", s, a, err)
		}
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		if _, err := Parse("::1"); err != nil {
			t.Errorf("Parse(::1): %v", err)
		}
	}
	for in, want := range map[string]string{
		"192.0.2.1":    "not an address of this machine", // TEST-NET-1: never assigned
		"2001:db8::1":  "not an address of this machine",
		"0.0.0.0":      "unspecified",
		"::":           "unspecified",
		"224.0.0.1":    "multicast",
		"localhost":    "not an IP address",
		"127.0.0.1:80": "not an IP address",
		"10.0.0.0/8":   "not an IP address",
		"":             "not an IP address",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want an error saying %q", in, err, want)
		}
	}
}

// TestDialer: a connection leaves from the address given; the zero
// address binds nothing.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Dialer(netip.MustParseAddr("127.0.0.9")).Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.9" {
		t.Errorf("the server saw %s, want 127.0.0.9", got)
	}
	if d := Dialer(netip.Addr{}); d.LocalAddr != nil {
		t.Errorf("the zero address binds %v", d.LocalAddr)
	}
}
