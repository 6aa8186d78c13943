package roomsource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// QR login poll codes (QRStatus.Code), docs/protocol.md §10.7.
const (
	QRSuccess    = 0     // confirmed: QRStatus.Cookies holds the login
	QRNotScanned = 86101 // waiting for a scan
	QRScanned    = 86090 // scanned, not yet confirmed on the phone
	QRExpired    = 86038 // the code expired: generate a new one
)

// QRCode is a fresh login QR code: show URL as a QR code, poll with Key.
type QRCode struct {
	URL string // what the QR code encodes
	Key string // qrcode_key for QRPoll
}

// QRStatus is one poll answer.
type QRStatus struct {
	Code    int // QRSuccess, QRNotScanned, QRScanned or QRExpired
	Message string
	// Cookies are the login's cookies (SESSDATA, bili_jct, DedeUserID, …)
	// when Code is QRSuccess: secrets, for WriteCookieFile or NewAccount.
	Cookies []*http.Cookie
	// RefreshToken is data.refresh_token on success (a secret).
	RefreshToken string
}

// Format keeps the cookies' and the refresh token's values out of every
// fmt verb.
func (s QRStatus) Format(f fmt.State, verb rune) {
	names := make([]string, 0, len(s.Cookies))
	for _, c := range s.Cookies {
		if c != nil {
			names = append(names, c.Name)
		}
	}
	fmt.Fprintf(f, "roomsource.QRStatus{Code:%d, Message:%q, Cookies:%v (values redacted)}", s.Code, s.Message, names)
}

// QRGenerate asks passport for a new login QR code (anonymous; through the
// shared limiter and breaker).
func (c *Client) QRGenerate(ctx context.Context) (QRCode, error) {
	env, _, err := c.do(ctx, "qrcode/generate", c.base.passport+"/x/passport-login/web/qrcode/generate", false, c.cookieHeader(anonymous))
	if err != nil {
		return QRCode{}, err
	}
	if err := codeErr("qrcode/generate", env); err != nil {
		return QRCode{}, err
	}
	var d struct {
		URL string `json:"url"`
		Key string `json:"qrcode_key"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.URL == "" || d.Key == "" {
		return QRCode{}, fmt.Errorf("roomsource: qrcode/generate: no url or qrcode_key in the answer")
	}
	return QRCode{URL: d.URL, Key: d.Key}, nil
}

// QRPoll asks once whether the QR code of key was scanned and confirmed.
// The state is data.code (the envelope's code is 0 in every normal
// answer); a poll that is not QRSuccess carries no cookies. On success
// the cookies come from Set-Cookie (or, failing that, from the
// cross-domain URL in data.url); success without SESSDATA is an error.
// Poll no faster than once a second: every poll uses the shared rate
// limiter.
func (c *Client) QRPoll(ctx context.Context, key string) (QRStatus, error) {
	u := c.base.passport + "/x/passport-login/web/qrcode/poll?qrcode_key=" + url.QueryEscape(key)
	env, res, err := c.do(ctx, "qrcode/poll", u, false, c.cookieHeader(anonymous))
	if err != nil {
		return QRStatus{}, err
	}
	if err := codeErr("qrcode/poll", env); err != nil {
		return QRStatus{}, err
	}
	var d struct {
		URL          string `json:"url"`
		RefreshToken string `json:"refresh_token"`
		Code         *int   `json:"code"`
		Message      string `json:"message"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Code == nil {
		return QRStatus{}, fmt.Errorf("roomsource: qrcode/poll: no data.code in the answer")
	}
	st := QRStatus{Code: *d.Code, Message: d.Message}
	if st.Code != QRSuccess {
		return st, nil
	}
	st.RefreshToken = d.RefreshToken
	for _, ck := range res.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			st.Cookies = append(st.Cookies, ck)
		}
	}
	if !hasCookie(st.Cookies, "SESSDATA") {
		st.Cookies = append(st.Cookies, cookiesFromURL(d.URL)...)
	}
	if !hasCookie(st.Cookies, "SESSDATA") {
		return QRStatus{}, fmt.Errorf("roomsource: qrcode/poll: login confirmed but no SESSDATA cookie came back")
	}
	return st, nil
}

func hasCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// cookiesFromURL reads the login cookies from the query of the
// cross-domain URL a successful poll carries in data.url, keeping each
// value as encoded there (as Set-Cookie would carry it).
func cookiesFromURL(raw string) []*http.Cookie {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	want := map[string]bool{"SESSDATA": true, "bili_jct": true, "DedeUserID": true, "DedeUserID__ckMd5": true, "sid": true}
	var out []*http.Cookie
	for _, kv := range strings.Split(u.RawQuery, "&") {
		name, v, _ := strings.Cut(kv, "=")
		if want[name] && v != "" && checkCookie(name, v) == nil {
			want[name] = false
			out = append(out, &http.Cookie{Name: name, Value: v, Domain: ".bilibili.com", Path: "/", HttpOnly: name == "SESSDATA"})
		}
	}
	return out
}
