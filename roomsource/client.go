package roomsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danmakud/danmakud/internal/backoff"
	"github.com/danmakud/danmakud/internal/sourceaddr"
	"golang.org/x/time/rate"
)

// DefaultUserAgent is a current desktop browser's. Bilibili answers -352
// to script-like or stale User-Agents (docs/protocol.md §3).
const DefaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36"

// The real hosts; Config.APIBase replaces all four.
const (
	wwwHost      = "https://www.bilibili.com"
	apiHost      = "https://api.bilibili.com"
	liveAPIHost  = "https://api.live.bilibili.com"
	passportHost = "https://passport.bilibili.com"
)

// Errors to branch on (errors.Is).
var (
	// ErrRateLimited: HTTP 412 or code -412; the breaker opens.
	ErrRateLimited = errors.New("rate limited by bilibili (412)")
	// ErrBreakerOpen: a request was not sent because the breaker is open.
	ErrBreakerOpen = errors.New("circuit breaker open after 412; not sending")
	// ErrRiskControl: code -352 (signature, cookie or User-Agent refused).
	ErrRiskControl = errors.New("risk control refused the request (-352)")
	// ErrRoomNotFound: the room id does not exist.
	ErrRoomNotFound = errors.New("room not found")
	// ErrNoSpareBudget: a background request (History) was not sent
	// because the rate limiter had no token to spare at that moment.
	ErrNoSpareBudget = errors.New("no spare request budget; background request skipped")
	// ErrNotLoggedIn: nav says an account's cookies are not (or no
	// longer) a login (code -101 or isLogin false).
	ErrNotLoggedIn = errors.New("not logged in (nav -101)")
)

// APIError is a non-zero code in a Bilibili JSON envelope, or a bad HTTP
// status. It wraps one of the sentinels above when one applies.
type APIError struct {
	Endpoint string
	Status   int // HTTP status
	Code     int // envelope code
	Message  string
	kind     error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("roomsource: %s: HTTP %d, code %d: %s", e.Endpoint, e.Status, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.kind }

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// APIBase, when set (e.g. "http://127.0.0.1:8080"), replaces every
	// Bilibili host, so the same binary runs against the simulator.
	APIBase   string
	UserAgent string        // default DefaultUserAgent
	Rate      float64       // requests per second, all endpoints together; default 2
	Burst     int           // default 4
	Timeout   time.Duration // per request; default 10s
	// BreakerPause is how long all requests stop after a 412; it doubles
	// on each failed probe up to BreakerMax. Defaults 2 min and 30 min.
	BreakerPause, BreakerMax time.Duration
	// Accounts are the logins to use (optional; see LoadCookieFile).
	// Account indexes in Login, DanmuInfoAs and Identity refer to this
	// slice. Their cookies are secrets: never logged, never stored.
	Accounts []*Account
	// SESSDATA is a bare login cookie (optional, older form): it is the
	// same as one Account holding only SESSDATA. Set it or Accounts, not
	// both.
	SESSDATA string
	// LoginRecheck is how old an account's last login check (nav) may be
	// before DanmuInfoAs repeats it; default 30 min.
	LoginRecheck time.Duration
	// HTTPClient is the client every request goes through; default one
	// (cookies are managed here) whose connections leave from SourceAddr
	// and number at most MaxHTTPConns at once.
	HTTPClient *http.Client
	// SourceAddr, when valid, is the local address every request is sent
	// from (collect --source-addr; the caller checks it is this
	// machine's, sourceaddr.Check). Not together with HTTPClient.
	SourceAddr netip.Addr
	Logger     *slog.Logger // nil discards
	// Observer is told of every request sent, by endpoint and outcome,
	// and of every one not sent (nil: nobody).
	Observer Observer
}

// Format prints the configuration with every secret redacted.
func (cfg Config) Format(f fmt.State, verb rune) {
	sess := ""
	if cfg.SESSDATA != "" {
		sess = "[redacted]"
	}
	labels := make([]string, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		if a != nil {
			labels[i] = a.Label
		}
	}
	fmt.Fprintf(f, "roomsource.Config{APIBase:%q, Accounts:%q, SESSDATA:%q, Rate:%v, Burst:%d, SourceAddr:%v}",
		cfg.APIBase, labels, sess, cfg.Rate, cfg.Burst, cfg.SourceAddr)
}

// Client is the single way to Bilibili's HTTP APIs: one rate limiter and
// one 412 circuit breaker for every call, buvid3 and WBI keys fetched
// once and cached (WBI keys dropped and refetched on -352). Safe for
// concurrent use.
type Client struct {
	cfg  Config
	hc   *http.Client
	lim  *rate.Limiter
	log  *slog.Logger
	base struct{ www, api, live, passport string }

	bootSem chan struct{} // one Bootstrap at a time
	keysSem chan struct{} // one WBI key refresh at a time

	mu        sync.Mutex
	buvid     string // the shared (anonymous) buvid3
	mixin     string
	keyGen    int // counts WBI key updates
	booted    bool
	accts     []*acctState
	openUntil time.Time        // breaker
	pause     *backoff.Backoff // the breaker's pause: BreakerPause doubling to BreakerMax
	probing   bool

	obs Observer // cfg.Observer, or a no-op
}

// acctState is what the client knows of one account's login; guarded by
// Client.mu except sem.
type acctState struct {
	acct    *Account
	sem     chan struct{} // one login check at a time
	checked time.Time     // last nav answer for this account; zero = never
	ok      bool          // logged in at checked
	mid     int64         // when ok
}

// String keeps a Client's secrets out of %v (fmt would otherwise print
// its unexported fields).
func (c *Client) String() string {
	return fmt.Sprintf("roomsource.Client{base:%q, accounts:%d}", c.base.api, len(c.accts))
}

// MaxHTTPConns is the most connections the default HTTP client holds open
// at once: httpConnsPerHost to each of the four Bilibili hosts. A caller
// that budgets descriptors counts it; requests past it wait for a
// connection, which the rate limit makes rare.
const MaxHTTPConns = 4 * httpConnsPerHost

// httpConnsPerHost bounds the connections to one host, open and idle
// alike: enough for the rate limit's requests at a far server's latency
// (32 at 50 ms is 640 requests a second), and kept for reuse rather than
// opened anew (the standard transport keeps 2 idle, so a burst of
// coverage checks used to dial a fresh TLS connection for each).
const httpConnsPerHost = 32

// boundedTransport is the default client's transport: the standard one's
// settings (proxy from the environment, timeouts), connections bounded per
// host and leaving from src when it is valid.
func boundedTransport(src netip.Addr) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = httpConnsPerHost
	tr.MaxIdleConnsPerHost = httpConnsPerHost
	tr.MaxIdleConns = MaxHTTPConns
	if src.IsValid() {
		tr.DialContext = sourceaddr.Dialer(src).DialContext
	}
	return tr
}

// New returns a Client. It makes no request yet.
func New(cfg Config) (*Client, error) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 2
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.BreakerPause <= 0 {
		cfg.BreakerPause = 2 * time.Minute
	}
	if cfg.BreakerMax <= 0 {
		cfg.BreakerMax = 30 * time.Minute
	}
	if cfg.LoginRecheck <= 0 {
		cfg.LoginRecheck = 30 * time.Minute
	}
	accounts := cfg.Accounts
	if cfg.SESSDATA != "" {
		if len(accounts) > 0 {
			return nil, errors.New("roomsource: set Config.Accounts or Config.SESSDATA, not both")
		}
		if err := checkCookie("SESSDATA", cfg.SESSDATA); err != nil {
			return nil, fmt.Errorf("roomsource: Config.SESSDATA: %w", err)
		}
		a := &Account{Label: "SESSDATA"}
		a.set("SESSDATA", cfg.SESSDATA)
		accounts = []*Account{a}
	}
	c := &Client{cfg: cfg, lim: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst), log: cfg.Logger,
		pause:   backoff.New(cfg.BreakerPause, cfg.BreakerMax, nil),
		bootSem: make(chan struct{}, 1), keysSem: make(chan struct{}, 1)}
	for i, a := range accounts {
		if a == nil || a.value("SESSDATA") == "" {
			return nil, fmt.Errorf("roomsource: Config.Accounts[%d] is nil or has no SESSDATA (use LoadCookieFile or NewAccount)", i)
		}
		c.accts = append(c.accts, &acctState{acct: a, sem: make(chan struct{}, 1)})
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.obs = cfg.Observer
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	c.hc = cfg.HTTPClient
	switch {
	case c.hc != nil && cfg.SourceAddr.IsValid():
		return nil, errors.New("roomsource: set Config.HTTPClient or Config.SourceAddr, not both")
	case c.hc != nil:
	default:
		c.hc = &http.Client{Transport: boundedTransport(cfg.SourceAddr)}
	}
	c.base.www, c.base.api, c.base.live, c.base.passport = wwwHost, apiHost, liveAPIHost, passportHost
	if b := strings.TrimRight(cfg.APIBase, "/"); b != "" {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("roomsource: bad API base %q: want http(s)://host[:port]", cfg.APIBase)
		}
		c.base.www, c.base.api, c.base.live, c.base.passport = b, b, b, b
	}
	return c, nil
}

// BreakerOpenUntil returns when the 412 breaker lets the next request
// (a probe) through; the zero time when it is closed. Safe for concurrent
// use.
func (c *Client) BreakerOpenUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openUntil
}

// breakerAllow decides whether a request may be sent now. While open it
// refuses; when the pause has passed it lets exactly one probe through.
func (c *Client) breakerAllow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.openUntil.IsZero() {
		return nil
	}
	if time.Now().Before(c.openUntil) || c.probing {
		return ErrBreakerOpen
	}
	c.probing = true
	return nil
}

// breakerResult records the outcome of a request for the breaker.
func (c *Client) breakerResult(limited bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	wasOpen := !c.openUntil.IsZero()
	c.probing = false
	if limited {
		// The first 412 pauses BreakerPause; each failed probe doubles it.
		pause := c.pause.Next()
		c.openUntil = time.Now().Add(pause)
		c.log.Warn("bilibili answered 412; pausing every HTTP request", "for", pause)
		return
	}
	if wasOpen {
		c.log.Info("HTTP requests recovered after 412 pause")
	}
	c.openUntil = time.Time{}
	c.pause.Reset()
}

type envelope struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Msg     string          `json:"msg"`
	Data    json.RawMessage `json:"data"`
}

// get performs one GET through the limiter and the breaker with the
// default cookies and decodes the envelope. A non-zero code is not an
// error here (see codeErr).
func (c *Client) get(ctx context.Context, endpoint, rawURL string) (*envelope, *http.Response, error) {
	return c.do(ctx, endpoint, rawURL, false, c.cookieHeader(asDefault))
}

// Who a request is made as, besides account indexes 0…
const (
	anonymous = -1 // buvid3 only
	asDefault = -2 // account 0 while its login holds, else anonymous
)

// cookieHeader returns the Cookie header for requests made as who.
func (c *Client) cookieHeader(who int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if who == asDefault {
		who = anonymous
		if len(c.accts) > 0 && (c.accts[0].ok || c.accts[0].checked.IsZero()) {
			who = 0
		}
	}
	if who < 0 {
		return cookieLine(nil, c.buvid)
	}
	return cookieLine(c.accts[who].acct, c.buvidLocked(who))
}

// buvidLocked is the buvid3 that account i's requests carry: its own when
// its cookies have one, else the shared one. c.mu must be held.
func (c *Client) buvidLocked(i int) string {
	if i >= 0 {
		if b := c.accts[i].acct.value("buvid3"); b != "" {
			return b
		}
	}
	return c.buvid
}

// cookieLine builds one Cookie header line (net/http keeps only the first
// of several): buvid3, then the account's sentCookies. a nil = anonymous.
func cookieLine(a *Account, buvid string) string {
	var parts []string
	if buvid != "" {
		parts = append(parts, "buvid3="+buvid)
	}
	for _, name := range sentCookies[1:] {
		if v := a.value(name); v != "" {
			parts = append(parts, name+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// do is get; spare marks a background request that takes a token only
// when one is free right now (no other request waiting, budget not
// spent) and otherwise fails at once with ErrNoSpareBudget. Requests that
// wait are served first, so background checks never delay a reconnect or
// a discovery round, whatever their number.
// cookie is the whole Cookie header ("" = none).
func (c *Client) do(ctx context.Context, endpoint, rawURL string, spare bool, cookie string) (*envelope, *http.Response, error) {
	if err := c.breakerAllow(); err != nil {
		c.obs.HTTPNotSent(endpoint, NotSentBreaker)
		return nil, nil, fmt.Errorf("roomsource: %s: %w", endpoint, err)
	}
	if spare {
		if !c.lim.Allow() {
			c.breakerRelease()
			c.obs.HTTPNotSent(endpoint, NotSentNoBudget)
			return nil, nil, fmt.Errorf("roomsource: %s: %w", endpoint, ErrNoSpareBudget)
		}
	} else if err := c.lim.Wait(ctx); err != nil {
		c.breakerRelease()
		return nil, nil, fmt.Errorf("roomsource: %s: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		c.breakerRelease()
		return nil, nil, err
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Referer", "https://live.bilibili.com/")
	req.Header.Set("Origin", "https://live.bilibili.com")
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.breakerResult(false)
		c.obs.HTTPRequest(endpoint, StatusError)
		return nil, nil, fmt.Errorf("roomsource: %s: %w", endpoint, redact(err))
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		c.breakerResult(false)
		c.obs.HTTPRequest(endpoint, StatusError)
		return nil, res, fmt.Errorf("roomsource: %s: read body: %w", endpoint, err)
	}
	var env envelope
	jerr := json.Unmarshal(body, &env)
	limited := res.StatusCode == http.StatusPreconditionFailed || (jerr == nil && env.Code == -412)
	c.breakerResult(limited)
	c.obs.HTTPRequest(endpoint, statusLabel(res, &env, jerr))
	if limited {
		return nil, res, &APIError{Endpoint: endpoint, Status: res.StatusCode, Code: env.Code, Message: env.Message, kind: ErrRateLimited}
	}
	if res.StatusCode != http.StatusOK {
		return nil, res, &APIError{Endpoint: endpoint, Status: res.StatusCode, Code: env.Code, Message: http.StatusText(res.StatusCode)}
	}
	if jerr != nil {
		if strings.Contains(res.Header.Get("Content-Type"), "html") {
			return &envelope{}, res, nil // the home page
		}
		return nil, res, fmt.Errorf("roomsource: %s: bad JSON: %w", endpoint, jerr)
	}
	return &env, res, nil
}

// statusLabel is a sent request's outcome for the Observer: the HTTP
// status, or for an HTTP 200 the envelope code's class (Status*).
func statusLabel(res *http.Response, env *envelope, jerr error) string {
	switch {
	case res.StatusCode != http.StatusOK:
		if jerr == nil && env.Code == -412 && res.StatusCode != http.StatusPreconditionFailed {
			return StatusLimited
		}
		return strconv.Itoa(res.StatusCode)
	case jerr != nil:
		if strings.Contains(res.Header.Get("Content-Type"), "html") {
			return "200" // the home page
		}
		return StatusBadJSON
	case env.Code == 0:
		return "200"
	case env.Code == -352:
		return StatusRisk
	case env.Code == -412:
		return StatusLimited
	}
	return StatusAPIError
}

func (c *Client) breakerRelease() {
	c.mu.Lock()
	c.probing = false
	c.mu.Unlock()
}

// redact strips query strings (they may carry tokens or signatures) from
// URL errors.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// codeErr turns a non-zero envelope code into an *APIError.
func codeErr(endpoint string, env *envelope, notFound ...int) error {
	if env.Code == 0 {
		return nil
	}
	e := &APIError{Endpoint: endpoint, Status: 200, Code: env.Code, Message: env.Message}
	if e.Message == "" {
		e.Message = env.Msg
	}
	if env.Code == -352 {
		e.kind = ErrRiskControl
	}
	for _, n := range notFound {
		if env.Code == n {
			e.kind = ErrRoomNotFound
		}
	}
	return e
}

// RoomInfo is what room_init says about a room.
type RoomInfo struct {
	RoomID     int64 `json:"room_id"`
	ShortID    int64 `json:"short_id"`
	UID        int64 `json:"uid"`
	LiveStatus int   `json:"live_status"`
}

// RoomInit resolves a short or long room id to the real one.
func (c *Client) RoomInit(ctx context.Context, id int64) (RoomInfo, error) {
	if id <= 0 {
		return RoomInfo{}, fmt.Errorf("roomsource: bad room id %d: %w", id, ErrRoomNotFound)
	}
	env, _, err := c.get(ctx, "room_init", c.base.live+"/room/v1/Room/room_init?id="+strconv.FormatInt(id, 10))
	if err != nil {
		return RoomInfo{}, err
	}
	if err := codeErr("room_init", env, 60004, 1); err != nil {
		return RoomInfo{}, fmt.Errorf("room %d: %w", id, err)
	}
	var ri RoomInfo
	if err := json.Unmarshal(env.Data, &ri); err != nil || ri.RoomID == 0 {
		return RoomInfo{}, fmt.Errorf("roomsource: room_init %d: no room_id", id)
	}
	return ri, nil
}

// Room is one entry of a room list (field names as the API has them).
type Room struct {
	RoomID     int64  `json:"roomid"`
	UID        int64  `json:"uid"`
	Uname      string `json:"uname"`
	Title      string `json:"title"`
	Online     int64  `json:"online"`
	AreaID     int64  `json:"area_id"`
	AreaName   string `json:"area_name"`
	ParentID   int64  `json:"parent_id"`
	ParentName string `json:"parent_name"`
	Watched    struct {
		Num int64 `json:"num"`
	} `json:"watched_show"`
}

// pageSize is what current clients ask of getListByAreaID.
const pageSize = 30

// maxPages bounds a listing of n rooms: the pages n needs, twice over
// (rooms move between pages while we read, so some repeat), plus a few.
// It only matters against a server that never returns an empty page.
func maxPages(n int) int { return 2*((n+pageSize-1)/pageSize) + 5 }

// TopRooms pages through getListByAreaID (sort=online; area 0 = all) until
// it has n rooms or the list ends. Any failed page fails the whole call:
// callers must never act on a partial list. The list ends at an empty
// page or at a page shorter than the longest seen; while rooms are still
// wanted that end is confirmed by one more page, and a list that goes on
// after it (an empty or short page in the middle: a truncated answer) is
// an error, not a shorter list.
func (c *Client) TopRooms(ctx context.Context, n int, area int64) ([]Room, error) {
	var out []Room
	seen := map[int64]bool{}
	longest, endPage, endLen := 0, 0, 0
	for page, last := 1, maxPages(n); len(out) < n && page <= last; page++ {
		rooms, err := c.listPage(ctx, area, page)
		if err != nil {
			return nil, err
		}
		if endPage > 0 { // the confirming page after a short or empty one
			if len(rooms) > 0 {
				return nil, fmt.Errorf("roomsource: getListByAreaID page %d had %d rooms (pages hold %d) but page %d goes on: a truncated list", endPage, endLen, longest, page)
			}
			break
		}
		longest = max(longest, len(rooms))
		for _, r := range rooms {
			if r.RoomID > 0 && !seen[r.RoomID] && len(out) < n {
				seen[r.RoomID] = true
				out = append(out, r)
			}
		}
		if len(rooms) == 0 || len(rooms) < longest {
			if len(rooms) == 0 && page == 1 {
				break // an empty list: nothing to confirm
			}
			endPage, endLen = page, len(rooms)
			last = page + 1
		}
	}
	return out, nil
}

// listPage fetches one page of getListByAreaID.
func (c *Client) listPage(ctx context.Context, area int64, page int) ([]Room, error) {
	u := fmt.Sprintf("%s/room/v1/Area/getListByAreaID?areaId=%d&sort=online&pageSize=%d&page=%d", c.base.live, area, pageSize, page)
	env, _, err := c.get(ctx, "getListByAreaID", u)
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", page, err)
	}
	if err := codeErr("getListByAreaID", env); err != nil {
		return nil, fmt.Errorf("page %d: %w", page, err)
	}
	var rooms []Room
	if err := json.Unmarshal(env.Data, &rooms); err != nil {
		return nil, fmt.Errorf("roomsource: getListByAreaID page %d: data is not a room array: %w", page, err)
	}
	return rooms, nil
}

// HistoryItem is one recent danmaku of dM/gethistory.
type HistoryItem struct {
	Text      string `json:"text"`
	UID       int64  `json:"uid"`
	IDStr     string `json:"id_str"`
	CheckInfo struct {
		Ts int64  `json:"ts"`
		Ct string `json:"ct"`
	} `json:"check_info"`
}

// Key identifies the item the way a received danmaku can be matched:
// check_info (ts, ct) equals DANMU_MSG info[9].
func (h HistoryItem) Key() string {
	return strconv.FormatInt(h.CheckInfo.Ts, 10) + ":" + h.CheckInfo.Ct
}

// History returns a room's recent danmaku, oldest first. It is a
// background request: it never waits for the rate limiter and returns
// ErrNoSpareBudget when no token is free right now.
func (c *Client) History(ctx context.Context, roomID int64) ([]HistoryItem, error) {
	env, _, err := c.do(ctx, "gethistory", fmt.Sprintf("%s/xlive/web-room/v1/dM/gethistory?roomid=%d&room_type=0", c.base.live, roomID), true, c.cookieHeader(asDefault))
	if err != nil {
		return nil, err
	}
	if err := codeErr("gethistory", env, 1); err != nil {
		return nil, err
	}
	var d struct {
		Room []HistoryItem `json:"room"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		return nil, fmt.Errorf("roomsource: gethistory: %w", err)
	}
	return d.Room, nil
}
