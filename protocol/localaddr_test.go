package protocol_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
)

// TestDialLocalAddr: with LocalAddr the connection leaves from that
// address (any 127.0.0.0/8 address is local on Linux); with a Dialer too
// Dial refuses.
func TestDialLocalAddr(t *testing.T) {
	from := make(chan string, 1)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		from <- host
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		c := &fakeConn{ws: ws}
		if _, err := c.auth(); err == nil {
			c.drain()
		}
	}))
	defer srv.Close()
	c := cfg("ws" + strings.TrimPrefix(srv.URL, "http") + "/sub")
	c.LocalAddr = netip.MustParseAddr("127.0.0.7")
	s, err := protocol.Dial(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := <-from; got != "127.0.0.7" {
		t.Errorf("the server saw the client at %s, want 127.0.0.7", got)
	}
	c.Dialer = &websocket.Dialer{}
	if _, err := protocol.Dial(context.Background(), c); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("Dial with a Dialer and a LocalAddr: %v, want a refusal", err)
	}
}
