package livesim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/wbi"
	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36"

// newSim starts a simulator that is closed when the test ends.
func newSim(t *testing.T, o livesim.Options) *livesim.Sim {
	t.Helper()
	if o.Seed == 0 {
		o.Seed = 42
	}
	if o.HTTPRate == 0 { // tests poll; only the budget tests set one
		o.HTTPRate, o.HTTPBurst = 1e5, 1e5
	}
	s, err := livesim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client does what a real client does over HTTP, with a cookie jar.
type client struct {
	t     *testing.T
	s     *livesim.Sim
	hc    *http.Client
	ua    string
	mixin string
}

func newClient(t *testing.T, s *livesim.Sim) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, s: s, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, ua: browserUA}
}

// get fetches path and decodes the JSON body into v; it returns the HTTP
// status.
func (c *client) get(path string, v any) int {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.s.URL()+path, nil)
	req.Header.Set("User-Agent", c.ua)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return res.StatusCode
}

type envelope struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// bootstrap gets buvid3 (home page) and the WBI keys (nav).
func (c *client) bootstrap() string {
	c.t.Helper()
	c.get("/", nil)
	u, _ := url.Parse(c.s.URL())
	var buvid string
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "buvid3" {
			buvid = ck.Value
		}
	}
	var nav struct {
		Data struct {
			WbiImg struct {
				ImgURL string `json:"img_url"`
				SubURL string `json:"sub_url"`
			} `json:"wbi_img"`
		} `json:"data"`
	}
	c.get("/x/web-interface/nav", &nav)
	var err error
	c.mixin, err = wbi.MixinKey(wbi.KeyFromURL(nav.Data.WbiImg.ImgURL), wbi.KeyFromURL(nav.Data.WbiImg.SubURL))
	if err != nil {
		c.t.Fatal(err)
	}
	return buvid
}

func (c *client) signed(path string, params url.Values) string {
	wbi.Sign(params, c.mixin, time.Now())
	return path + "?" + params.Encode()
}

type danmuInfo struct {
	Token    string `json:"token"`
	HostList []struct {
		Host    string `json:"host"`
		Port    int    `json:"port"`
		WssPort int    `json:"wss_port"`
		WsPort  int    `json:"ws_port"`
	} `json:"host_list"`
}

// token fetches a WBI-signed getDanmuInfo for room.
func (c *client) token(room int64) string {
	c.t.Helper()
	var env envelope
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", url.Values{"id": {fmt.Sprint(room)}, "type": {"0"}, "web_location": {"444.8"}}), &env)
	if env.Code != 0 {
		c.t.Fatalf("getDanmuInfo(%d): code %d", room, env.Code)
	}
	var d danmuInfo
	if err := json.Unmarshal(env.Data, &d); err != nil {
		c.t.Fatal(err)
	}
	return d.Token
}

// wsConn is a raw client connection with a decoder.
type wsConn struct {
	t  *testing.T
	ws *websocket.Conn
	fd protocol.FrameDecoder
}

func dial(t *testing.T, s *livesim.Sim) *wsConn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &wsConn{t: t, ws: ws}
}

func (w *wsConn) sendAuth(uid, room int64, protover int, key, buvid string) {
	body := fmt.Sprintf(`{"uid":%d,"roomid":%d,"protover":%d,"buvid":%q,"platform":"web","type":2,"key":%q}`, uid, room, protover, buvid, key)
	w.write(protocol.EncodePacket(protocol.VerInt, protocol.OpAuth, 1, []byte(body)))
}

func (w *wsConn) heartbeat(body string) {
	w.write(protocol.EncodePacket(protocol.VerInt, protocol.OpHeartbeat, 1, []byte(body)))
}

func (w *wsConn) write(b []byte) {
	w.t.Helper()
	if err := w.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		w.t.Fatal(err)
	}
}

// next reads one WebSocket message (deadline d).
func (w *wsConn) next(d time.Duration) ([]byte, error) {
	_ = w.ws.SetReadDeadline(time.Now().Add(d))
	mt, msg, err := w.ws.ReadMessage()
	if err == nil && mt != websocket.BinaryMessage {
		return nil, errors.New("text message")
	}
	return msg, err
}

// events decodes one message.
func (w *wsConn) events(msg []byte) []protocol.Event {
	w.t.Helper()
	evs, errs := w.fd.DecodeMessage(nil, msg, 0)
	if len(errs) > 0 {
		w.t.Fatalf("decode: %v", errs)
	}
	return evs
}

// authed dials, authenticates anonymously and returns the connection
// after the auth reply.
func authed(t *testing.T, s *livesim.Sim, c *client, buvid string, room int64, protover int) *wsConn {
	t.Helper()
	w := dial(t, s)
	w.sendAuth(0, room, protover, c.token(room), buvid)
	msg, err := w.next(5 * time.Second)
	if err != nil {
		t.Fatalf("auth reply: %v", err)
	}
	h, _ := protocol.ParseHeader(msg)
	if h.Op != protocol.OpAuthReply {
		t.Fatalf("first message op %d, want 8", h.Op)
	}
	return w
}

// isTCPClose reports whether err is the peer closing the TCP connection
// without a WebSocket close frame.
func isTCPClose(err error) bool {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code == websocket.CloseAbnormalClosure
	}
	return err != nil
}
