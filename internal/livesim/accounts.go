package livesim

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/danmakud/danmakud/internal/cookiefile"
)

// account is one logged-in user of the simulator: its cookies as a
// browser holds them after a login.
type account struct {
	mid      int64
	sessdata string
	biliJct  string
	buvid    string // "" for QR logins: the client keeps its own buvid3
	expires  time.Time
}

// newAccount creates and registers an account with a fresh mid and
// SESSDATA. withBuvid also issues it a buvid3 (a browser's cookie jar).
func (s *Sim) newAccount(withBuvid bool) *account {
	s.acctMu.Lock()
	mid := int64(3493110000000000) + int64(len(s.accounts)+1)*7919 + s.seedMid()
	a := &account{mid: mid, biliJct: hex.EncodeToString(randBytes(16)), expires: time.Now().Add(180 * 24 * time.Hour)}
	s.accounts = append(s.accounts, a)
	s.acctMu.Unlock()
	a.sessdata = s.NewSession(mid)
	if withBuvid {
		a.buvid = s.newBuvid()
	}
	return a
}

// seedMid spreads mids of different seeds apart (called with acctMu held).
func (s *Sim) seedMid() int64 { return int64(s.opts.Seed % 1000) }

// cookies returns the account's cookies for .bilibili.com.
func (a *account) cookies() []*http.Cookie {
	mk := func(name, value string, httpOnly bool) *http.Cookie {
		return &http.Cookie{Name: name, Value: value, Domain: ".bilibili.com", Path: "/", Expires: a.expires, HttpOnly: httpOnly, Secure: httpOnly}
	}
	cs := []*http.Cookie{
		mk("SESSDATA", a.sessdata, true),
		mk("bili_jct", a.biliJct, false),
		mk("DedeUserID", strconv.FormatInt(a.mid, 10), false),
	}
	if a.buvid != "" {
		cs = append(cs, mk("buvid3", a.buvid, false))
	}
	return cs
}

// writeCookieFile writes DIR/account-<i>.txt in the Netscape cookies.txt
// format (what browser export extensions produce), mode 0600, creating
// DIR with mode 0700 if needed.
func (a *account) writeCookieFile(dir string, i int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "account-"+strconv.Itoa(i)+".txt")
	return cookiefile.Write(path, []string{"livesim account " + strconv.Itoa(i)}, a.cookies())
}

// AccountCookies returns the cookies of account i (from 1: the accounts
// of Options.Accounts first, then those made by QR logins): SESSDATA,
// bili_jct, DedeUserID and, for the former, buvid3 — name, value and
// path only, so that a cookie jar accepts them for the simulator's URL
// (the cookie files say .bilibili.com). Nil if there is no such account.
func (s *Sim) AccountCookies(i int) []*http.Cookie {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	if i < 1 || i > len(s.accounts) {
		return nil
	}
	var out []*http.Cookie
	for _, c := range s.accounts[i-1].cookies() {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
	}
	return out
}

// AccountMid returns the mid of account i (from 1), or 0.
func (s *Sim) AccountMid(i int) int64 {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	if i < 1 || i > len(s.accounts) {
		return 0
	}
	return s.accounts[i-1].mid
}

// acctRoom is one account's presence in one room.
type acctRoom struct {
	conns int
	over  bool // beyond the account's room budget: sampled
}

// joinRoom records a logged-in connection of mid to room and reports
// whether it is beyond the account's budget (Options.AccountRooms): the
// account's first AccountRooms rooms are full, later rooms sampled, for
// as long as the account keeps a connection there.
func (s *Sim) joinRoom(mid, room int64) bool {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	rooms := s.acctRooms[mid]
	if rooms == nil {
		rooms = map[int64]*acctRoom{}
		s.acctRooms[mid] = rooms
	}
	ar := rooms[room]
	if ar == nil {
		ar = &acctRoom{over: s.opts.AccountRooms > 0 && len(rooms) >= s.opts.AccountRooms}
		rooms[room] = ar
	}
	ar.conns++
	return ar.over
}

// leaveRoom undoes joinRoom.
func (s *Sim) leaveRoom(mid, room int64) {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	rooms := s.acctRooms[mid]
	if ar := rooms[room]; ar != nil {
		if ar.conns--; ar.conns <= 0 {
			delete(rooms, room)
		}
	}
	if len(rooms) == 0 {
		delete(s.acctRooms, mid)
	}
}

// qrLogin is one QR code's state: how often it was polled.
type qrLogin struct {
	mu    sync.Mutex
	polls int
	done  bool
}

// QR poll codes (PROTOCOL.md §10.7).
const (
	qrOK         = 0
	qrExpired    = 86038
	qrScanned    = 86090
	qrNotScanned = 86101
)

// handleQRGenerate is passport's qrcode/generate: a login URL and its key.
func (s *Sim) handleQRGenerate(w http.ResponseWriter, r *http.Request) {
	key := hex.EncodeToString(randBytes(16))
	s.qr.Store(key, &qrLogin{})
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
		"url":        "https://account.bilibili.com/h5/account-pc/login/scan?navhash=" + hex.EncodeToString(randBytes(8)) + "&qrcode_key=" + key,
		"qrcode_key": key}})
}

// handleQRPoll is passport's qrcode/poll: a scripted user who scans the
// code and confirms it — 86101 (not scanned) twice, 86090 (scanned)
// twice, then 0 with the new account's cookies in Set-Cookie; the key is
// spent after that (86038). Unknown keys, and every poll with
// Options.QRExpire, get 86038.
func (s *Sim) handleQRPoll(w http.ResponseWriter, r *http.Request) {
	answer := func(code int, msg, redirect, refresh string) {
		writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
			"url": redirect, "refresh_token": refresh, "timestamp": time.Now().UnixMilli(), "code": code, "message": msg}})
	}
	v, ok := s.qr.Load(r.URL.Query().Get("qrcode_key"))
	if !ok || s.opts.QRExpire {
		answer(qrExpired, "二维码已失效", "", "")
		return
	}
	q := v.(*qrLogin)
	q.mu.Lock()
	q.polls++
	n, done := q.polls, q.done
	if n >= 5 {
		q.done = true
	}
	q.mu.Unlock()
	switch {
	case done:
		answer(qrExpired, "二维码已失效", "", "")
	case n <= 2:
		answer(qrNotScanned, "未扫码", "", "")
	case n <= 4:
		answer(qrScanned, "二维码已扫码未确认", "", "")
	default:
		a := s.newAccount(false)
		mid := strconv.FormatInt(a.mid, 10)
		sum := md5.Sum([]byte(mid))
		ck := hex.EncodeToString(sum[:8])
		for _, c := range a.cookies() {
			http.SetCookie(w, c)
		}
		for _, c := range []*http.Cookie{{Name: "DedeUserID__ckMd5", Value: ck}, {Name: "sid", Value: hex.EncodeToString(randBytes(4))}} {
			c.Domain, c.Path, c.Expires = ".bilibili.com", "/", a.expires
			http.SetCookie(w, c)
		}
		q := url.Values{"DedeUserID": {mid}, "DedeUserID__ckMd5": {ck}, "Expires": {strconv.FormatInt(a.expires.Unix(), 10)},
			"SESSDATA": {a.sessdata}, "bili_jct": {a.biliJct}, "gourl": {"https://www.bilibili.com"}}
		answer(qrOK, "", "https://passport.biligame.com/x/passport-login/web/crossDomain?"+q.Encode(), hex.EncodeToString(randBytes(16)))
	}
}
