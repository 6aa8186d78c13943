// Package cookiefile reads and writes the Netscape cookies.txt format
// that browser export extensions and curl use: one cookie per line, seven
// tab-separated fields (domain, include-subdomains flag, path, secure
// flag, expiry in unix seconds, name, value), "#HttpOnly_" before the
// domain of an HttpOnly cookie, other lines starting with '#' comments.
//
// It knows the format only, and whether a path holds something a cookie
// file may replace (CheckReplace); which cookies a file must hold, and
// which names and values are acceptable beyond what the format can
// carry, is the caller's (roomsource for logins, livesim for its test
// accounts).
package cookiefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
)

// Header is the first line of every file Write makes; readers (curl,
// yt-dlp) look for it.
const Header = "# Netscape HTTP Cookie File"

// oldHeader is the first line of files from older tools.
const oldHeader = "# HTTP Cookie File"

const httpOnlyPrefix = "#HttpOnly_"

// Append appends cookies as cookies.txt lines to dst. Deleting cookies
// (MaxAge < 0) and empty ones are left out. The expiry is now+MaxAge when
// MaxAge > 0, else Expires, else 0 (a session cookie). A cookie without
// a domain or with a field the format cannot carry (a tab or line break,
// a space in the domain) is an error that names the cookie, never its
// value.
func Append(dst []byte, cookies []*http.Cookie, now time.Time) ([]byte, error) {
	for _, c := range cookies {
		if c == nil || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		if c.Name == "" || strings.ContainsAny(c.Name, "\t\r\n") {
			return nil, fmt.Errorf("cookie name %q cannot be written to a cookies.txt line", c.Name)
		}
		if strings.ContainsAny(c.Value, "\t\r\n") {
			return nil, fmt.Errorf("cookie %s has a value with a tab or line break", c.Name)
		}
		if c.Domain == "" || strings.ContainsAny(c.Domain, "\t\r\n ") || strings.ContainsAny(c.Path, "\t\r\n") {
			return nil, fmt.Errorf("cookie %s has a bad domain or path", c.Name)
		}
		path := c.Path
		if path == "" {
			path = "/"
		}
		var exp int64
		switch {
		case c.MaxAge > 0:
			exp = now.Unix() + int64(c.MaxAge)
		case !c.Expires.IsZero():
			exp = c.Expires.Unix()
		}
		if c.HttpOnly {
			dst = append(dst, httpOnlyPrefix...)
		}
		dst = append(dst, c.Domain...)
		dst = append(dst, '\t')
		dst = append(dst, upperBool(strings.HasPrefix(c.Domain, "."))...)
		dst = append(dst, '\t')
		dst = append(dst, path...)
		dst = append(dst, '\t')
		dst = append(dst, upperBool(c.Secure)...)
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, exp, 10)
		dst = append(dst, '\t')
		dst = append(dst, c.Name...)
		dst = append(dst, '\t')
		dst = append(dst, c.Value...)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// Write writes cookies (see Append) to path as a cookies.txt: Header, the
// comment lines (each gets "# " before it), a blank line, the cookies.
// The file gets mode 0600 (it holds a login) and is written atomically
// (internal/atomicfile): a reader sees the old file or the new one, and
// on an error the old file is kept. path's directory must exist.
func Write(path string, comment []string, cookies []*http.Cookie) error {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	for _, l := range comment {
		b.WriteString("# " + l + "\n")
	}
	b.WriteByte('\n')
	out, err := Append(b.Bytes(), cookies, time.Now())
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out, 0o600)
}

// HasHeader reports whether the file at path starts with a cookies.txt
// header line (Header, or the older "# HTTP Cookie File"): whether it is
// a cookie file that may be replaced, rather than something else at a
// mistyped path. The error is only os.Open's; a file that cannot be read
// has no header.
func HasHeader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	first, _ := bufio.NewReader(f).ReadString('\n')
	return strings.HasPrefix(first, Header) || strings.HasPrefix(first, oldHeader), nil
}

// ErrNotCookieFile is wrapped by CheckReplace's error for a file that is
// there and is not a cookie file.
var ErrNotCookieFile = errors.New("exists and is not a cookie file")

// CheckReplace reports whether a cookie file may be written at path,
// replacing what is there, so that a mistyped path never destroys
// another file. It is nil when nothing is there, or a file with a
// cookies.txt header (HasHeader), or with anyFile (the user said so) any
// file; an error wrapping ErrNotCookieFile for another file; another
// error for a directory or a path that cannot be examined. Each error's
// text begins with path. It only looks: nothing is written.
func CheckReplace(path string, anyFile bool) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if anyFile {
		return nil
	}
	ok, err := HasHeader(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !ok {
		return fmt.Errorf("%s %w", path, ErrNotCookieFile)
	}
	return nil
}

// Line is one cookie line as read, fields trimmed of spaces.
type Line struct {
	Domain, Path, Name, Value string
	Secure, HTTPOnly          bool
	// Expiry is the expiry field as written: unix seconds (0 = a session
	// cookie); see Expires.
	Expiry string
}

// IsLine reports whether line looks like a cookie line (at least five
// tabs) rather than a comment or a name=value line.
func IsLine(line string) bool { return strings.Count(line, "\t") >= 5 }

// ParseLine splits one cookie line. A line of six fields (some exporters
// drop an empty value's field) has an empty value.
func ParseLine(line string) (Line, error) {
	var l Line
	if rest, ok := strings.CutPrefix(line, httpOnlyPrefix); ok {
		line, l.HTTPOnly = rest, true
	}
	f := strings.Split(line, "\t")
	if len(f) == 6 {
		f = append(f, "")
	}
	if len(f) != 7 {
		return Line{}, fmt.Errorf("want 7 tab-separated Netscape fields, got %d", len(f))
	}
	l.Domain, l.Path = f[0], strings.TrimSpace(f[2])
	l.Secure = strings.EqualFold(strings.TrimSpace(f[3]), "TRUE")
	l.Expiry, l.Name, l.Value = strings.TrimSpace(f[4]), strings.TrimSpace(f[5]), strings.TrimSpace(f[6])
	return l, nil
}

// Expires reads the expiry field: the zero time for a session cookie
// (0 or less), else the instant. A field that is not a number is an
// error naming the cookie.
func (l Line) Expires() (time.Time, error) {
	secs, err := strconv.ParseFloat(l.Expiry, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("cookie %s: bad expiry field (want unix seconds)", l.Name)
	}
	if secs <= 0 {
		return time.Time{}, nil
	}
	return time.Unix(int64(secs), 0), nil
}

func upperBool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}
