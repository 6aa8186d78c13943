package roomsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/cookiefile"
)

// Account is one Bilibili login: the cookies of one browser session.
// Its cookie values are secrets: String, GoString and every fmt verb
// print the Label and the cookie names only, and no error of this package
// contains a value. An Account is immutable after it is made and safe for
// concurrent use.
type Account struct {
	// Label names the account in logs and errors: the cookie file's path,
	// or "login N" for one made from a QR login. It is not a secret.
	Label string

	cookies []cookieKV // bilibili.com cookies, one per name, in file order
}

type cookieKV struct{ name, value string }

// sentCookies are the cookies an account's requests carry, in this order
// (buvid3 first, as browsers send it). Other cookies in a file are kept
// but not sent.
var sentCookies = []string{"buvid3", "buvid4", "SESSDATA", "bili_jct", "DedeUserID", "DedeUserID__ckMd5"}

// NewAccount makes an Account from cookies, e.g. those of a QR login
// (QRStatus.Cookies). Cookies for other domains than bilibili.com, and
// empty or deleting ones, are ignored; SESSDATA is required.
func NewAccount(label string, cookies []*http.Cookie) (*Account, error) {
	a := &Account{Label: label}
	for _, c := range cookies {
		if c == nil || c.Value == "" || c.MaxAge < 0 || !bilibiliDomain(c.Domain) {
			continue
		}
		if err := checkCookie(c.Name, c.Value); err != nil {
			return nil, fmt.Errorf("roomsource: account %s: %w", label, err)
		}
		a.set(c.Name, c.Value)
	}
	if a.value("SESSDATA") == "" {
		return nil, fmt.Errorf("roomsource: account %s: no SESSDATA cookie", label)
	}
	return a, nil
}

func (a *Account) set(name, value string) {
	for i := range a.cookies {
		if a.cookies[i].name == name {
			a.cookies[i].value = value
			return
		}
	}
	a.cookies = append(a.cookies, cookieKV{name, value})
}

// value returns the named cookie's value, "" when absent.
func (a *Account) value(name string) string {
	if a == nil {
		return ""
	}
	for _, c := range a.cookies {
		if c.name == name {
			return c.value
		}
	}
	return ""
}

// CookieNames returns the names of the account's cookies (never values).
func (a Account) CookieNames() []string {
	out := make([]string, len(a.cookies))
	for i, c := range a.cookies {
		out[i] = c.name
	}
	return out
}

// String returns the label.
func (a Account) String() string { return "account " + strconv.Quote(a.Label) }

// GoString names the label and the cookie names; values are redacted.
func (a Account) GoString() string {
	return fmt.Sprintf("roomsource.Account{Label:%q, cookies:%v (values redacted)}", a.Label, a.CookieNames())
}

// Format makes every fmt verb safe: %#v is GoString, everything else String.
func (a Account) Format(f fmt.State, verb rune) {
	if verb == 'v' && (f.Flag('#') || f.Flag('+')) {
		io.WriteString(f, a.GoString())
		return
	}
	io.WriteString(f, a.String())
}

// bilibiliDomain reports whether a cookie domain belongs to bilibili.com;
// an empty domain (a name=value line, a host-only Set-Cookie) does.
func bilibiliDomain(d string) bool {
	d = strings.ToLower(strings.TrimPrefix(d, "."))
	return d == "" || d == "bilibili.com" || strings.HasSuffix(d, ".bilibili.com")
}

// checkCookie refuses names and values that would break a Cookie header
// or a cookies.txt line. The error names the cookie, never the value.
func checkCookie(name, value string) error {
	if name == "" || strings.ContainsAny(name, "=; \t\r\n\",") {
		return fmt.Errorf("bad cookie name %q", name)
	}
	for i := 0; i < len(value); i++ {
		if b := value[i]; b < 0x21 || b == 0x7f || b == ';' {
			return fmt.Errorf("cookie %s has a value with a space, control character or ';'", name)
		}
	}
	return nil
}

// LoadCookieFile reads one account from a cookie file, in either format:
//
//   - Netscape cookies.txt (what browser extensions and curl export): seven
//     tab-separated fields per line (domain, subdomains flag, path, secure,
//     expiry in unix seconds, name, value); `#HttpOnly_` before the domain
//     is allowed, other `#` lines are comments. Cookies of other domains
//     than bilibili.com and expired ones are skipped; an expired SESSDATA
//     is an error.
//   - name=value lines, several per line separated by `;` (a browser's
//     Cookie header, optionally with its "Cookie:" prefix). A file holding
//     one bare value is taken as SESSDATA.
//
// The file must hold SESSDATA. It must not be readable or writable by
// group or others (it holds a login): the error then names the file, its
// mode and the fix `chmod 600 FILE`. No error contains a cookie value.
// The Account's Label is path.
func LoadCookieFile(path string) (*Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("roomsource: cookie file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("roomsource: cookie file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("roomsource: cookie file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("roomsource: cookie file %s has mode %v, open to group or others: it holds a login; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("roomsource: cookie file %s: %w", path, err)
	}
	a, err := parseCookies(path, b, time.Now())
	if err != nil {
		return nil, fmt.Errorf("roomsource: cookie file %s: %w", path, err)
	}
	return a, nil
}

// parseCookies parses either cookie file format (see LoadCookieFile).
func parseCookies(label string, b []byte, now time.Time) (*Account, error) {
	a := &Account{Label: label}
	text := strings.TrimSpace(string(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	if text != "" && !strings.ContainsAny(text, "=;# \t\r\n") {
		// One bare value: the SESSDATA of the first --cookie-file format.
		if err := checkCookie("SESSDATA", text); err != nil {
			return nil, err
		}
		a.set("SESSDATA", text)
		return a, nil
	}
	var sessExpired time.Time
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if cookiefile.IsLine(line) {
			name, value, expires, ok, err := netscapeLine(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			if !ok {
				continue
			}
			if !expires.IsZero() && expires.Before(now) {
				if name == "SESSDATA" {
					sessExpired = expires
				}
				continue
			}
			a.set(name, value)
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) > 7 && strings.EqualFold(line[:7], "cookie:") {
			line = line[7:]
		}
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, value, ok := strings.Cut(part, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: want name=value pairs or 7 tab-separated Netscape fields", n)
			}
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if value == "" {
				continue
			}
			if err := checkCookie(name, value); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			a.set(name, value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if a.value("SESSDATA") == "" {
		if !sessExpired.IsZero() {
			return nil, fmt.Errorf("its SESSDATA cookie expired at %s; log in again", sessExpired.UTC().Format(time.RFC3339))
		}
		return nil, errors.New("no SESSDATA cookie for bilibili.com in it (want a Netscape cookies.txt or SESSDATA=… lines)")
	}
	return a, nil
}

// netscapeLine parses one cookies.txt line. ok is false for cookies of
// other domains and empty values.
func netscapeLine(line string) (name, value string, expires time.Time, ok bool, err error) {
	l, err := cookiefile.ParseLine(line)
	if err != nil {
		return "", "", time.Time{}, false, err
	}
	if !bilibiliDomain(l.Domain) || strings.TrimSpace(l.Domain) == "" || l.Value == "" {
		return "", "", time.Time{}, false, nil
	}
	if err := checkCookie(l.Name, l.Value); err != nil {
		return "", "", time.Time{}, false, err
	}
	if expires, err = l.Expires(); err != nil {
		return "", "", time.Time{}, false, err
	}
	return l.Name, l.Value, expires, true, nil
}

// WriteCookieFile writes cookies as a Netscape cookies.txt that
// LoadCookieFile reads back: mode 0600, written to a temporary file in
// the same directory and renamed over path (a reader sees the old file or
// the new one, never a part). A missing parent directory is created with
// mode 0700. Cookies without a domain get ".bilibili.com", without a path
// "/"; deleting (MaxAge < 0) and empty ones are left out. It refuses a
// set without SESSDATA, so a failed login never replaces a good file.
func WriteCookieFile(path string, cookies []*http.Cookie) error {
	var out []*http.Cookie
	hasSess := false
	for _, c := range cookies {
		if c == nil || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		if err := checkCookie(c.Name, c.Value); err != nil {
			return fmt.Errorf("roomsource: write cookie file %s: %w", path, err)
		}
		cc := *c
		if cc.Domain == "" {
			cc.Domain = ".bilibili.com"
		}
		if cc.Name == "SESSDATA" && bilibiliDomain(cc.Domain) {
			hasSess = true
		}
		out = append(out, &cc)
	}
	if !hasSess {
		return fmt.Errorf("roomsource: write cookie file %s: no SESSDATA cookie to write", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("roomsource: write cookie file: %w", err)
	}
	if err := cookiefile.Write(path, []string{"Written by danmakud. It holds a login: keep it mode 0600."}, out); err != nil {
		return fmt.Errorf("roomsource: write cookie file %s: %w", path, err)
	}
	return nil
}

// DefaultCookiePath is where a login is kept when no file is named:
// $XDG_CONFIG_HOME/danmakud/cookies.txt, or ~/.config/danmakud/cookies.txt
// when XDG_CONFIG_HOME is unset or not absolute. It is "" when neither
// is known (no home directory).
func DefaultCookiePath() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "danmakud", "cookies.txt")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "danmakud", "cookies.txt")
}
