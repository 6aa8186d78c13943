package roomsource_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/roomsource"
)

const sharedBuvid = "SHARED-0000-0000-0000-000000000000infoc"

// fakeBili is a scripted Bilibili for the account and QR tests: the home
// page sets the shared buvid3, nav knows the sessions in sessions (SESSDATA
// → mid), getDanmuInfo answers a token naming the mid the server saw (so a
// test can check a token matches the Identity returned with it), and the
// QR endpoints play qrScript.
type fakeBili struct {
	srv *httptest.Server

	mu       sync.Mutex
	sessions map[string]int64
	cookies  map[string][]string // endpoint → Cookie headers received, in order
	navs     map[string]int      // SESSDATA sent ("" = none) → nav requests
	reject   bool                // getDanmuInfo answers -352 until the next nav…
	holdN    int                 // …once holdN such requests have arrived (all held till then)
	held     int
	barrier  chan struct{}
	limitFor string // getDanmuInfo answers 412 to this SESSDATA
	qrScript []func(w http.ResponseWriter)
	qrKeys   []string
	requests int
}

func newFakeBili(t *testing.T) *fakeBili {
	f := &fakeBili{sessions: map[string]int64{}, cookies: map[string][]string{}, navs: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func sessOf(r *http.Request) string {
	if c, err := r.Cookie("SESSDATA"); err == nil {
		return c.Value
	}
	return ""
}

func (f *fakeBili) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	f.cookies[name] = append(f.cookies[name], r.Header.Get("Cookie"))
	sess := sessOf(r)
	mid := f.sessions[sess]
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/":
		http.SetCookie(w, &http.Cookie{Name: "buvid3", Value: sharedBuvid, Domain: ".bilibili.com", Path: "/"})
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html></html>")
	case "/x/web-interface/nav":
		f.navs[sess]++
		f.reject = false
		wbi := `"wbi_img":{"img_url":"https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png","sub_url":"https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}`
		if mid > 0 {
			fmt.Fprintf(w, `{"code":0,"message":"0","data":{"isLogin":true,"mid":%d,%s}}`, mid, wbi)
		} else {
			fmt.Fprintf(w, `{"code":-101,"message":"账号未登录","data":{"isLogin":false,%s}}`, wbi)
		}
	case "/xlive/web-room/v1/index/getDanmuInfo":
		switch {
		case f.limitFor != "" && sess == f.limitFor:
			w.WriteHeader(http.StatusPreconditionFailed)
			fmt.Fprint(w, `{"code":-412,"message":"请求被拦截"}`)
		case f.reject:
			if f.held++; f.held == f.holdN {
				close(f.barrier)
			}
			b := f.barrier
			f.mu.Unlock()
			<-b
			f.mu.Lock()
			fmt.Fprint(w, `{"code":-352,"message":"-352","ttl":1}`)
		default:
			fmt.Fprintf(w, `{"code":0,"data":{"token":"tok-uid-%d","host_list":[{"host":"h","port":1,"wss_port":2,"ws_port":3}]}}`, mid)
		}
	case "/x/passport-login/web/qrcode/generate":
		fmt.Fprint(w, `{"code":0,"message":"0","ttl":1,"data":{"url":"https://account.bilibili.com/h5/account-h5/auth/scan-web?qrcode_key=k1","qrcode_key":"k1"}}`)
	case "/x/passport-login/web/qrcode/poll":
		f.qrKeys = append(f.qrKeys, r.URL.Query().Get("qrcode_key"))
		if len(f.qrScript) == 0 {
			http.Error(w, "script over", http.StatusInternalServerError)
			return
		}
		step := f.qrScript[0]
		f.qrScript = f.qrScript[1:]
		step(w)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeBili) lastCookie(endpoint string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := f.cookies[endpoint]
	if len(cs) == 0 {
		return "<none>"
	}
	return cs[len(cs)-1]
}

func (f *fakeBili) set(fn func(f *fakeBili)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeBili) navCount(sess string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.navs[sess]
}

func account(t *testing.T, label string, kv ...string) *roomsource.Account {
	t.Helper()
	var cs []*http.Cookie
	for i := 0; i < len(kv); i += 2 {
		cs = append(cs, &http.Cookie{Name: kv[i], Value: kv[i+1]})
	}
	a, err := roomsource.NewAccount(label, cs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Two accounts and the anonymous identity: each request carries its own
// cookies, and every token comes back with the identity it is bound to.
func TestAccountsSendTheirOwnCookies(t *testing.T) {
	f := newFakeBili(t)
	f.sessions["sa"], f.sessions["sb"] = 1001, 1002
	a := account(t, "a.txt", "SESSDATA", "sa", "bili_jct", "ja", "DedeUserID", "1001", "buvid3", "A-BUVIDinfoc", "other", "x")
	b := account(t, "b.txt", "SESSDATA", "sb", "bili_jct", "jb", "DedeUserID", "1002")
	c := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a, b}})
	ctx := t.Context()
	if c.NumAccounts() != 2 {
		t.Fatalf("NumAccounts %d", c.NumAccounts())
	}
	for _, tc := range []struct {
		account int
		cookie  string
		id      roomsource.Identity
	}{
		{0, "buvid3=A-BUVIDinfoc; SESSDATA=sa; bili_jct=ja; DedeUserID=1001", roomsource.Identity{Account: 0, Mid: 1001, Buvid: "A-BUVIDinfoc"}},
		{1, "buvid3=" + sharedBuvid + "; SESSDATA=sb; bili_jct=jb; DedeUserID=1002", roomsource.Identity{Account: 1, Mid: 1002, Buvid: sharedBuvid}},
		{-1, "buvid3=" + sharedBuvid, roomsource.Identity{Account: -1, Buvid: sharedBuvid}},
	} {
		before := time.Now()
		d, err := c.DanmuInfoAs(ctx, 5, tc.account)
		if err != nil {
			t.Fatalf("account %d: %v", tc.account, err)
		}
		if got := f.lastCookie("getDanmuInfo"); got != tc.cookie {
			t.Errorf("account %d sent Cookie %q, want %q", tc.account, got, tc.cookie)
		}
		if d.Identity != tc.id || d.Identity.Anonymous() != (tc.account < 0) {
			t.Errorf("account %d: identity %+v, want %+v", tc.account, d.Identity, tc.id)
		}
		if d.Token != fmt.Sprintf("tok-uid-%d", tc.id.Mid) {
			t.Errorf("account %d: token %s bound to another identity than %+v", tc.account, d.Token, d.Identity)
		}
		if d.FetchedAt.Before(before) || d.FetchedAt.After(time.Now()) {
			t.Errorf("FetchedAt %v", d.FetchedAt)
		}
	}
	// Login ran implicitly, once per account (account 0's at Bootstrap).
	if c.AccountMid(0) != 1001 || c.AccountMid(1) != 1002 || c.AccountMid(2) != 0 || c.AccountMid(-1) != 0 {
		t.Errorf("AccountMid: %d %d", c.AccountMid(0), c.AccountMid(1))
	}
	if f.navCount("sa") != 1 || f.navCount("sb") != 1 {
		t.Errorf("nav requests per account: %v", f.navs)
	}
	// Requests made as nobody in particular (lists, room_init, history)
	// carry account 0's cookies, as before accounts existed.
	c.RoomInit(ctx, 5)
	if got := f.lastCookie("room_init"); !strings.Contains(got, "SESSDATA=sa") {
		t.Errorf("room_init Cookie %q", got)
	}
	if buvid, mid := c.Identity(); buvid != "A-BUVIDinfoc" || mid != 1001 {
		t.Errorf("Identity() = %s %d", buvid, mid)
	}
	if _, err := c.DanmuInfoAs(ctx, 5, 2); err == nil {
		t.Error("DanmuInfoAs with no such account succeeded")
	}
	if _, err := c.Login(ctx, -1); err == nil {
		t.Error("Login(-1) succeeded")
	}
}

// A lapsed login (nav -101) makes the account's tokens anonymous, with an
// anonymous Identity and no login cookie on the request: never a mix.
func TestLapsedLoginGoesAnonymous(t *testing.T) {
	f := newFakeBili(t)
	f.sessions["sa"], f.sessions["sb"] = 1001, 1002
	a := account(t, "a.txt", "SESSDATA", "sa")
	b := account(t, "b.txt", "SESSDATA", "sb", "buvid3", "B-BUVIDinfoc")
	c := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a, b}})
	ctx := t.Context()
	if mid, err := c.Login(ctx, 1); err != nil || mid != 1002 {
		t.Fatalf("Login: %d %v", mid, err)
	}
	f.set(func(f *fakeBili) { delete(f.sessions, "sb") })
	mid, err := c.Login(ctx, 1)
	if !errors.Is(err, roomsource.ErrNotLoggedIn) || mid != 0 || c.AccountMid(1) != 0 {
		t.Fatalf("Login after the session ended: %d, %v; AccountMid %d", mid, err, c.AccountMid(1))
	}
	if strings.Contains(err.Error(), "sb") && !strings.Contains(err.Error(), "b.txt") {
		t.Errorf("error %q", err)
	}
	d, err := c.DanmuInfoAs(ctx, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Identity != (roomsource.Identity{Account: -1, Buvid: sharedBuvid}) || d.Token != "tok-uid-0" {
		t.Errorf("lapsed account: identity %+v, token %s", d.Identity, d.Token)
	}
	if got := f.lastCookie("getDanmuInfo"); got != "buvid3="+sharedBuvid {
		t.Errorf("lapsed account's token request sent Cookie %q", got)
	}
	// Account 0 is unaffected; a new login brings account 1 back.
	if d, err := c.DanmuInfoAs(ctx, 5, 0); err != nil || d.Identity.Mid != 1001 || d.Token != "tok-uid-1001" {
		t.Errorf("account 0: %+v %v", d, err)
	}
	f.set(func(f *fakeBili) { f.sessions["sb"] = 1002 })
	if mid, err := c.Login(ctx, 1); err != nil || mid != 1002 {
		t.Fatalf("Login again: %d %v", mid, err)
	}
	if d, err := c.DanmuInfoAs(ctx, 5, 1); err != nil || d.Identity != (roomsource.Identity{Account: 1, Mid: 1002, Buvid: "B-BUVIDinfoc"}) {
		t.Errorf("account 1 back: %+v %v", d.Identity, err)
	}
}

// When account 0 lapses, DanmuInfo and Identity() and the untargeted
// requests go anonymous together.
func TestLapsedFirstAccount(t *testing.T) {
	f := newFakeBili(t)
	c := newClient(t, f.srv.URL, roomsource.Config{SESSDATA: "gone"})
	d, err := c.DanmuInfo(t.Context(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if d.Identity != (roomsource.Identity{Account: -1, Buvid: sharedBuvid}) || d.Token != "tok-uid-0" {
		t.Errorf("identity %+v token %s", d.Identity, d.Token)
	}
	if buvid, mid := c.Identity(); buvid != sharedBuvid || mid != 0 {
		t.Errorf("Identity() = %s %d", buvid, mid)
	}
	c.RoomInit(t.Context(), 5)
	if got := f.lastCookie("room_init"); got != "buvid3="+sharedBuvid {
		t.Errorf("room_init Cookie %q", got)
	}
}

// A login check older than LoginRecheck is repeated before a token fetch,
// so a lapse is noticed without an explicit Login.
func TestLoginRecheck(t *testing.T) {
	f := newFakeBili(t)
	f.sessions["sa"] = 1001
	a := account(t, "a.txt", "SESSDATA", "sa")
	fresh := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a}})
	for range 3 {
		if _, err := fresh.DanmuInfoAs(t.Context(), 5, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.navCount("sa"); n != 1 {
		t.Errorf("%d navs for three tokens within LoginRecheck, want 1", n)
	}
	c := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a}, LoginRecheck: time.Nanosecond})
	if d, err := c.DanmuInfoAs(t.Context(), 5, 0); err != nil || d.Identity.Mid != 1001 {
		t.Fatalf("%+v %v", d, err)
	}
	f.set(func(f *fakeBili) { delete(f.sessions, "sa") })
	if d, err := c.DanmuInfoAs(t.Context(), 5, 0); err != nil || !d.Identity.Anonymous() || d.Token != "tok-uid-0" {
		t.Errorf("after the lapse: %+v %v", d, err)
	}
}

// Many token fetches for an account never checked share one nav.
func TestConcurrentFirstLoginIsOneNav(t *testing.T) {
	f := newFakeBili(t)
	f.sessions["sa"], f.sessions["sb"] = 1001, 1002
	c := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{
		account(t, "a", "SESSDATA", "sa"), account(t, "b", "SESSDATA", "sb")}})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			d, err := c.DanmuInfoAs(t.Context(), 5, 1)
			if err == nil && d.Identity.Mid != 1002 {
				err = fmt.Errorf("identity %+v", d.Identity)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := f.navCount("sb"); n != 1 {
		t.Errorf("%d navs for account 1, want 1", n)
	}
	if n := f.navCount("sa") + f.navCount(""); n != 1 {
		t.Errorf("%d bootstrap navs, want 1", n)
	}
}

// On -352, concurrent requests re-sign after a single key refresh.
func TestOneKeyRefreshFor352(t *testing.T) {
	f := newFakeBili(t)
	c := newClient(t, f.srv.URL, roomsource.Config{})
	if err := c.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := f.navCount("")
	// All six are refused with the same stale keys before any refresh.
	f.set(func(f *fakeBili) { f.reject, f.holdN, f.barrier = true, 6, make(chan struct{}) })
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() { _, err := c.DanmuInfoAs(t.Context(), 5, -1); errs <- err })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := f.navCount("") - before; n != 1 {
		t.Errorf("%d key refreshes for one rotation, want 1", n)
	}
}

// One breaker for all: a 412 earned by account 1 stops account 0 too.
func TestAccountsShareTheBreaker(t *testing.T) {
	f := newFakeBili(t)
	f.sessions["sa"], f.sessions["sb"] = 1001, 1002
	f.limitFor = "sb"
	c := newClient(t, f.srv.URL, roomsource.Config{BreakerPause: time.Hour, Accounts: []*roomsource.Account{
		account(t, "a", "SESSDATA", "sa"), account(t, "b", "SESSDATA", "sb")}})
	ctx := t.Context()
	if _, err := c.DanmuInfoAs(ctx, 5, 1); !errors.Is(err, roomsource.ErrRateLimited) {
		t.Fatalf("account 1: %v, want ErrRateLimited", err)
	}
	f.mu.Lock()
	sent := f.requests
	f.mu.Unlock()
	for _, who := range []int{0, -1} {
		if _, err := c.DanmuInfoAs(ctx, 5, who); !errors.Is(err, roomsource.ErrBreakerOpen) {
			t.Errorf("as %d after account 1's 412: %v, want ErrBreakerOpen", who, err)
		}
	}
	if _, err := c.Login(ctx, 0); !errors.Is(err, roomsource.ErrBreakerOpen) {
		t.Errorf("Login after a 412: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests != sent {
		t.Errorf("%d requests reached the server while the breaker was open", f.requests-sent)
	}
}

func TestConfigAccounts(t *testing.T) {
	a := account(t, "a", "SESSDATA", "sa")
	for name, cfg := range map[string]roomsource.Config{
		"both":          {SESSDATA: "x", Accounts: []*roomsource.Account{a}},
		"nil account":   {Accounts: []*roomsource.Account{a, nil}},
		"empty account": {Accounts: []*roomsource.Account{{Label: "hand-made"}}},
		"bad SESSDATA":  {SESSDATA: "a b"},
	} {
		if _, err := roomsource.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The older single SESSDATA is account 0.
	f := newFakeBili(t)
	f.sessions["legacy"] = 77
	c := newClient(t, f.srv.URL, roomsource.Config{SESSDATA: "legacy"})
	d, err := c.DanmuInfo(context.Background(), 5)
	if err != nil || d.Identity != (roomsource.Identity{Account: 0, Mid: 77, Buvid: sharedBuvid}) || d.Token != "tok-uid-77" {
		t.Fatalf("%+v %v", d, err)
	}
	if _, mid := c.Identity(); mid != 77 || c.NumAccounts() != 1 {
		t.Errorf("Identity mid %d, %d accounts", mid, c.NumAccounts())
	}
}
