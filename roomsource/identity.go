package roomsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/wbi"
)

// acquire takes a one-slot semaphore or gives up when ctx ends.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bootstrap gets the shared buvid3 cookie (from the home page, falling
// back to finger/spi) and the WBI keys from nav; with accounts, that nav
// carries account 0's cookies and counts as its Login. It succeeds once;
// later calls return at once. Concurrent calls wait for the one in flight.
func (c *Client) Bootstrap(ctx context.Context) error {
	if err := acquire(ctx, c.bootSem); err != nil {
		return err
	}
	defer func() { <-c.bootSem }()
	c.mu.Lock()
	booted := c.booted
	c.mu.Unlock()
	if booted {
		return nil
	}
	if err := c.fetchBuvid(ctx); err != nil {
		return err
	}
	who := anonymous
	if len(c.accts) > 0 {
		who = 0
	}
	if _, err := c.nav(ctx, who, true); err != nil && !errors.Is(err, ErrNotLoggedIn) {
		return err
	}
	c.mu.Lock()
	c.booted = true
	c.mu.Unlock()
	return nil
}

func (c *Client) fetchBuvid(ctx context.Context) error {
	_, res, err := c.get(ctx, "home", c.base.www+"/")
	if err == nil {
		for _, ck := range res.Cookies() {
			if ck.Name == "buvid3" && ck.Value != "" {
				c.mu.Lock()
				c.buvid = ck.Value
				c.mu.Unlock()
				return nil
			}
		}
	}
	if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrBreakerOpen) {
		return err
	}
	env, _, err := c.get(ctx, "finger/spi", c.base.api+"/x/frontend/finger/spi")
	if err != nil {
		return err
	}
	var d struct {
		B3 string `json:"b_3"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.B3 == "" {
		return fmt.Errorf("roomsource: no buvid3 from the home page or finger/spi")
	}
	c.mu.Lock()
	c.buvid = d.B3
	c.mu.Unlock()
	return nil
}

// nav asks nav as who (an account index or anonymous). It always takes
// the WBI keys it carries (needKeys: their absence is an error). For an
// account it records the login state and returns the mid, or an error
// wrapping ErrNotLoggedIn.
func (c *Client) nav(ctx context.Context, who int, needKeys bool) (int64, error) {
	env, _, err := c.do(ctx, "nav", c.base.api+"/x/web-interface/nav", false, c.cookieHeader(who))
	if err != nil {
		return 0, err
	}
	var d struct {
		IsLogin bool  `json:"isLogin"`
		Mid     int64 `json:"mid"`
		WbiImg  struct {
			ImgURL string `json:"img_url"`
			SubURL string `json:"sub_url"`
		} `json:"wbi_img"`
	}
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return 0, fmt.Errorf("roomsource: nav: %w", err)
		}
	}
	mixin, kerr := wbi.MixinKey(wbi.KeyFromURL(d.WbiImg.ImgURL), wbi.KeyFromURL(d.WbiImg.SubURL))
	if kerr == nil {
		c.mu.Lock()
		c.mixin = mixin
		c.keyGen++
		c.mu.Unlock()
	}
	if env.Code != 0 && env.Code != -101 {
		return 0, codeErr("nav", env)
	}
	if needKeys && kerr != nil {
		return 0, fmt.Errorf("roomsource: nav: %w", kerr)
	}
	if who < 0 {
		return 0, nil
	}
	ok := env.Code == 0 && d.IsLogin && d.Mid > 0
	c.mu.Lock()
	st := c.accts[who]
	was, wasChecked := st.ok, !st.checked.IsZero()
	st.checked, st.ok, st.mid = time.Now(), ok, 0
	if ok {
		st.mid = d.Mid
	}
	c.mu.Unlock()
	label := st.acct.Label
	switch {
	case ok && !was:
		c.log.Info("account logged in", "account", label, "mid", d.Mid)
	case !ok && was:
		c.log.Warn("account login lapsed (nav -101); its requests continue anonymously", "account", label)
	case !ok && !wasChecked:
		c.log.Warn("the account's cookies are not a login (nav -101); its requests go anonymously", "account", label)
	}
	if !ok {
		return 0, fmt.Errorf("roomsource: %s: %w", label, ErrNotLoggedIn)
	}
	return d.Mid, nil
}

// NumAccounts is the number of accounts (Config.Accounts, or 1 for
// Config.SESSDATA).
func (c *Client) NumAccounts() int { return len(c.accts) }

func (c *Client) checkAccount(i int) error {
	if i < 0 || i >= len(c.accts) {
		return fmt.Errorf("roomsource: no account %d (have %d)", i, len(c.accts))
	}
	return nil
}

// Login asks nav with account i's cookies (one request, through the
// shared limiter and breaker) and caches the answer: the mid when nav
// says isLogin, else an error wrapping ErrNotLoggedIn (the account's
// requests then go anonymously until a later Login succeeds). Other
// errors (network, 412) leave the cached state as it was. Call it again
// after a connection made with this account's token was cut right after
// auth (docs/protocol.md §10.2): the login may have lapsed. Safe for
// concurrent use.
func (c *Client) Login(ctx context.Context, account int) (mid int64, err error) {
	if err := c.checkAccount(account); err != nil {
		return 0, err
	}
	return c.nav(ctx, account, false)
}

// AccountMid returns account i's mid from the last Login (or Bootstrap
// for account 0); 0 when not logged in, never checked, or no such
// account.
func (c *Client) AccountMid(i int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.accts) || !c.accts[i].ok {
		return 0
	}
	return c.accts[i].mid
}

// Identity returns the buvid3 and mid (0 when anonymous) that DanmuInfo
// (no account named) uses now: account 0's while its login holds, else
// the shared anonymous buvid3 and 0. A connection should use the Identity
// returned with its token (DanmuInfo.Identity) instead: that one cannot
// change between the token fetch and the auth packet.
func (c *Client) Identity() (buvid string, mid int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.accts) > 0 && c.accts[0].ok {
		return c.buvidLocked(0), c.accts[0].mid
	}
	return c.buvid, 0
}

// Identity is who a token was fetched as; the WebSocket auth packet must
// carry exactly this uid (Mid) and buvid with that token (docs/protocol.md
// §10.2).
type Identity struct {
	Account int    // index into Config.Accounts; -1 = anonymous
	Mid     int64  // the account's mid; 0 when anonymous
	Buvid   string // the buvid3 the token request carried
}

// Anonymous reports whether the identity is not a login.
func (id Identity) Anonymous() bool { return id.Account < 0 || id.Mid == 0 }

// signedGet signs params with the cached WBI key and sends them with the
// Cookie header cookie. On -352 it re-signs once with fresh keys (fetched
// only if nobody refreshed them since this request was signed; one
// refresh in flight) and never loops.
func (c *Client) signedGet(ctx context.Context, endpoint, base, path string, params url.Values, cookie string, notFound ...int) (*envelope, error) {
	if err := c.Bootstrap(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		c.mu.Lock()
		mixin, gen := c.mixin, c.keyGen
		c.mu.Unlock()
		wbi.Sign(p, mixin, time.Now())
		env, _, err := c.do(ctx, endpoint, base+path+"?"+p.Encode(), false, cookie)
		if err != nil {
			return nil, err
		}
		err = codeErr(endpoint, env, notFound...)
		if errors.Is(err, ErrRiskControl) && attempt == 0 {
			if kerr := c.refreshKeys(ctx, gen, endpoint); kerr != nil {
				return nil, kerr
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return env, nil
	}
}

// refreshKeys fetches the WBI keys again unless they changed since
// generation gen (another request refreshed them meanwhile).
func (c *Client) refreshKeys(ctx context.Context, gen int, endpoint string) error {
	if err := acquire(ctx, c.keysSem); err != nil {
		return err
	}
	defer func() { <-c.keysSem }()
	c.mu.Lock()
	fresh := c.keyGen != gen
	c.mu.Unlock()
	if fresh {
		return nil
	}
	c.log.Info("-352: refreshing WBI keys", "endpoint", endpoint)
	_, err := c.nav(ctx, anonymous, true)
	return err
}

// Host is one WebSocket server from getDanmuInfo.
type Host struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	WssPort int    `json:"wss_port"`
	WsPort  int    `json:"ws_port"`
}

// DanmuInfo is a fresh token, bound to the room and to Identity, and the
// servers to try.
type DanmuInfo struct {
	Token     string
	Hosts     []Host
	Identity  Identity  // who the token was fetched as: the auth packet must carry it
	FetchedAt time.Time // when the answer arrived
}

// URL returns the WebSocket URL for host i (mod len): ws://host:ws_port/sub
// when the API base is plain http (the simulator), else
// wss://host:wss_port/sub.
func (c *Client) URL(d DanmuInfo, i int) string {
	if len(d.Hosts) == 0 {
		return "wss://broadcastlv.chat.bilibili.com:443/sub"
	}
	h := d.Hosts[i%len(d.Hosts)]
	if strings.HasPrefix(c.cfg.APIBase, "http://") {
		return "ws://" + h.Host + ":" + strconv.Itoa(h.WsPort) + "/sub"
	}
	return "wss://" + h.Host + ":" + strconv.Itoa(h.WssPort) + "/sub"
}

// DanmuInfo fetches a token and host list for a real room id as account
// 0 when there are accounts, else anonymously: DanmuInfoAs(ctx, roomID, 0
// or -1).
func (c *Client) DanmuInfo(ctx context.Context, roomID int64) (DanmuInfo, error) {
	who := anonymous
	if len(c.accts) > 0 {
		who = 0
	}
	return c.DanmuInfoAs(ctx, roomID, who)
}

// DanmuInfoAs fetches a token and host list for a real room id
// (WBI-signed) as account (an index into Config.Accounts; -1 =
// anonymous: buvid3 only). The returned Identity is one snapshot taken
// before the request: the account's mid and the buvid3 its request
// carried, sent with that account's cookies. If the account was never
// checked, or its check is older than Config.LoginRecheck, Login runs
// first; if its login has lapsed the token is fetched anonymously and
// Identity says so (Account -1, Mid 0, the shared buvid3) — a token and
// an identity never mix. Blocks for the rate limiter; safe for
// concurrent use.
func (c *Client) DanmuInfoAs(ctx context.Context, roomID int64, account int) (DanmuInfo, error) {
	if account != anonymous {
		if err := c.checkAccount(account); err != nil {
			return DanmuInfo{}, err
		}
	}
	if err := c.Bootstrap(ctx); err != nil {
		return DanmuInfo{}, err
	}
	if account >= 0 {
		if err := c.ensureLogin(ctx, account); err != nil {
			return DanmuInfo{}, err
		}
	}
	id, cookie := c.snapshot(account)
	env, err := c.signedGet(ctx, "getDanmuInfo", c.base.live, "/xlive/web-room/v1/index/getDanmuInfo",
		url.Values{"id": {strconv.FormatInt(roomID, 10)}, "type": {"0"}, "web_location": {"444.8"}}, cookie, 1002002, 60004)
	if err != nil {
		return DanmuInfo{}, err
	}
	var d struct {
		Token    string `json:"token"`
		HostList []Host `json:"host_list"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Token == "" {
		return DanmuInfo{}, fmt.Errorf("roomsource: getDanmuInfo: no token in the answer")
	}
	return DanmuInfo{Token: d.Token, Hosts: d.HostList, Identity: id, FetchedAt: time.Now()}, nil
}

// snapshot takes, under one lock, the identity a request as account
// makes and the Cookie header that goes with it.
func (c *Client) snapshot(account int) (Identity, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if account >= 0 && c.accts[account].ok {
		b := c.buvidLocked(account)
		return Identity{Account: account, Mid: c.accts[account].mid, Buvid: b}, cookieLine(c.accts[account].acct, b)
	}
	return Identity{Account: anonymous, Buvid: c.buvid}, cookieLine(nil, c.buvid)
}

// ensureLogin runs Login for account i unless a check newer than
// LoginRecheck is cached; one check per account at a time. A lapsed
// login is not an error here (the caller goes anonymous).
func (c *Client) ensureLogin(ctx context.Context, i int) error {
	st := c.accts[i]
	stale := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return st.checked.IsZero() || time.Since(st.checked) > c.cfg.LoginRecheck
	}
	if !stale() {
		return nil
	}
	if err := acquire(ctx, st.sem); err != nil {
		return err
	}
	defer func() { <-st.sem }()
	if !stale() {
		return nil
	}
	if _, err := c.nav(ctx, i, false); err != nil && !errors.Is(err, ErrNotLoggedIn) {
		return err
	}
	return nil
}
