package roomsource_test

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/roomsource"
)

func qrAnswer(code int, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		fmt.Fprintf(w, `{"code":0,"message":"0","ttl":1,"data":{"url":"","refresh_token":"","timestamp":0,"code":%d,"message":%q}}`, code, msg)
	}
}

// qrSuccess answers code 0 with the login's cookies in Set-Cookie.
func qrSuccess(w http.ResponseWriter) {
	for _, c := range []*http.Cookie{
		{Name: "SESSDATA", Value: secretSess, Domain: ".bilibili.com", Path: "/", HttpOnly: true, Secure: true, MaxAge: 15552000},
		{Name: "bili_jct", Value: secretJct, Domain: ".bilibili.com", Path: "/", MaxAge: 15552000},
		{Name: "DedeUserID", Value: "9001", Domain: ".bilibili.com", Path: "/", MaxAge: 15552000},
		{Name: "DedeUserID__ckMd5", Value: "abcdef0123456789", Domain: ".bilibili.com", Path: "/", MaxAge: 15552000},
		{Name: "sid", Value: "s1d", Domain: ".bilibili.com", Path: "/", MaxAge: 15552000},
	} {
		http.SetCookie(w, c)
	}
	fmt.Fprint(w, `{"code":0,"message":"0","ttl":1,"data":{"url":"https://passport.biligame.com/x/passport-login/web/crossDomain?DedeUserID=9001","refresh_token":"rt-secret","timestamp":1,"code":0,"message":""}}`)
}

func TestQRLogin(t *testing.T) {
	f := newFakeBili(t)
	f.qrScript = []func(http.ResponseWriter){qrAnswer(86101, "未扫码"), qrAnswer(86090, "二维码已扫码未确认"), qrSuccess}
	c := newClient(t, f.srv.URL, roomsource.Config{})
	ctx := t.Context()
	qr, err := c.QRGenerate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if qr.Key != "k1" || !strings.Contains(qr.URL, "qrcode_key=k1") {
		t.Fatalf("QRGenerate = %+v", qr)
	}
	var got []roomsource.QRStatus
	for range 3 {
		st, err := c.QRPoll(ctx, qr.Key)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	for i, want := range []int{roomsource.QRNotScanned, roomsource.QRScanned, roomsource.QRSuccess} {
		if got[i].Code != want {
			t.Errorf("poll %d: code %d, want %d", i+1, got[i].Code, want)
		}
	}
	if len(got[0].Cookies)+len(got[1].Cookies) != 0 || got[0].Message != "未扫码" {
		t.Errorf("waiting polls: %v %v", got[0], got[1])
	}
	if f.polledKeys() != "[k1 k1 k1]" {
		t.Errorf("polled keys %v", f.polledKeys())
	}
	ok := got[2]
	if ok.RefreshToken != "rt-secret" || len(ok.Cookies) != 5 {
		t.Fatalf("success: %d cookies, refresh token %q", len(ok.Cookies), ok.RefreshToken)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		noSecret(t, "QRStatus "+verb, fmt.Sprintf(verb, ok), "rt-secret")
	}
	// The cookies make a working cookie file and account.
	p := filepath.Join(t.TempDir(), "danmakud", "cookies.txt")
	if err := roomsource.WriteCookieFile(p, ok.Cookies); err != nil {
		t.Fatal(err)
	}
	a, err := roomsource.LoadCookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeBili) { f.sessions[secretSess] = 9001 })
	c2 := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a}})
	if mid, err := c2.Login(ctx, 0); err != nil || mid != 9001 {
		t.Errorf("Login with the QR cookies: %d %v", mid, err)
	}
	if got := f.lastCookie("nav"); !strings.Contains(got, "SESSDATA="+secretSess) || !strings.Contains(got, "bili_jct="+secretJct) {
		t.Errorf("nav Cookie %q", got)
	}
}

func TestQRPollExpiredAndOdd(t *testing.T) {
	f := newFakeBili(t)
	f.qrScript = []func(http.ResponseWriter){
		qrAnswer(86038, "二维码已失效"),
		// Success with the cookies only in data.url (no Set-Cookie).
		func(w http.ResponseWriter) {
			fmt.Fprintf(w, `{"code":0,"data":{"url":"https://passport.biligame.com/crossDomain?DedeUserID=9002&DedeUserID__ckMd5=ab&Expires=1&SESSDATA=%s&bili_jct=%s&gourl=x","refresh_token":"r","code":0,"message":""}}`, secretSess, secretJct)
		},
		// Success without any login cookie.
		func(w http.ResponseWriter) { fmt.Fprint(w, `{"code":0,"data":{"url":"","code":0,"message":""}}`) },
		// A refused request and an answer without data.code.
		func(w http.ResponseWriter) { fmt.Fprint(w, `{"code":-400,"message":"请求错误"}`) },
		func(w http.ResponseWriter) { fmt.Fprint(w, `{"code":0,"data":{}}`) },
	}
	c := newClient(t, f.srv.URL, roomsource.Config{})
	ctx := t.Context()
	st, err := c.QRPoll(ctx, "k&2")
	if err != nil || st.Code != roomsource.QRExpired || len(st.Cookies) != 0 {
		t.Errorf("expired: %v %v", st, err)
	}
	if got := f.polledKeys(); got != "[k&2]" {
		t.Errorf("key arrived as %s", got)
	}
	st, err = c.QRPoll(ctx, "k2")
	if err != nil || st.Code != 0 {
		t.Fatalf("success via data.url: %v %v", st, err)
	}
	a, err := roomsource.NewAccount("login 1", st.Cookies)
	if err != nil || fmt.Sprint(a.CookieNames()) != "[DedeUserID DedeUserID__ckMd5 SESSDATA bili_jct]" {
		t.Errorf("account from data.url: %v %v", a, err)
	}
	f.set(func(f *fakeBili) { f.sessions[secretSess] = 9002 })
	c2 := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a}})
	if mid, err := c2.Login(ctx, 0); err != nil || mid != 9002 {
		t.Errorf("Login with cookies from data.url: %d %v (the value must stay as encoded)", mid, err)
	}
	if _, err := c.QRPoll(ctx, "k2"); err == nil || !strings.Contains(err.Error(), "no SESSDATA") {
		t.Errorf("success without cookies: %v", err)
	}
	var apiErr *roomsource.APIError
	if _, err := c.QRPoll(ctx, "k2"); !errors.As(err, &apiErr) || apiErr.Code != -400 {
		t.Errorf("envelope -400: %v", err)
	}
	if _, err := c.QRPoll(ctx, "k2"); err == nil {
		t.Error("an answer without data.code was accepted")
	}
}

func (f *fakeBili) polledKeys() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.qrKeys)
}
