package cookiefile

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestWriteAndParse(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.txt")
	exp := time.Unix(1900000000, 0)
	cookies := []*http.Cookie{
		{Name: "SESSDATA", Value: "s3cr3t", Domain: ".bilibili.com", Path: "/", Expires: exp, HttpOnly: true, Secure: true},
		{Name: "DedeUserID", Value: "42", Domain: "live.bilibili.com"}, // no path: "/"
		{Name: "gone", Value: "x", Domain: ".bilibili.com", MaxAge: -1},
		{Name: "empty", Domain: ".bilibili.com"},
	}
	if err := Write(p, []string{"made by a test"}, cookies); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Header + "\n# made by a test\n\n" +
		"#HttpOnly_.bilibili.com\tTRUE\t/\tTRUE\t1900000000\tSESSDATA\ts3cr3t\n" +
		"live.bilibili.com\tFALSE\t/\tFALSE\t0\tDedeUserID\t42\n"
	if string(b) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	var got []Line
	for _, l := range strings.Split(string(b), "\n") {
		if IsLine(l) {
			line, err := ParseLine(l)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, line)
		}
	}
	if len(got) != 2 || got[0] != (Line{Domain: ".bilibili.com", Path: "/", Name: "SESSDATA", Value: "s3cr3t", Secure: true, HTTPOnly: true, Expiry: "1900000000"}) {
		t.Fatalf("read back %+v", got)
	}
	if e, err := got[0].Expires(); err != nil || !e.Equal(exp) {
		t.Errorf("expires %v, %v", e, err)
	}
	if e, err := got[1].Expires(); err != nil || !e.IsZero() {
		t.Errorf("session cookie expires %v, %v", e, err)
	}
}

func TestMaxAgeExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	b, err := Append(nil, []*http.Cookie{{Name: "a", Value: "b", Domain: "x", MaxAge: 60, Expires: time.Unix(5, 0)}}, now)
	if err != nil || string(b) != "x\tFALSE\t/\tFALSE\t1060\ta\tb\n" {
		t.Fatalf("%q, %v", b, err)
	}
}

// TestRefusesWhatTheFormatCannotCarry: the error names the cookie, not
// the value, and nothing is written.
func TestRefusesWhatTheFormatCannotCarry(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []*http.Cookie{
		{Name: "SESSDATA", Value: "se\tcret", Domain: ".bilibili.com"},
		{Name: "SESSDATA", Value: "se\ncret", Domain: ".bilibili.com"},
		{Name: "SESSDATA", Value: "secret", Domain: ""},
		{Name: "SESSDATA", Value: "secret", Domain: "a b"},
		{Name: "SESSDATA", Value: "secret", Domain: ".bilibili.com", Path: "/\t"},
		{Name: "a\tb", Value: "secret", Domain: ".bilibili.com"},
	} {
		err := Write(filepath.Join(dir, "c.txt"), nil, []*http.Cookie{c})
		if err == nil {
			t.Errorf("%+v was written", c)
			continue
		}
		if strings.Contains(err.Error(), "cret") {
			t.Errorf("error shows the value: %v", err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %d files", len(ents))
	}
}

func TestParseLine(t *testing.T) {
	l, err := ParseLine(".bilibili.com\tTRUE\t/\tFALSE\t0\tbuvid3") // six fields: empty value
	if err != nil || l.Name != "buvid3" || l.Value != "" {
		t.Fatalf("%+v, %v", l, err)
	}
	if _, err := ParseLine("a\tb\tc"); err == nil || !strings.Contains(err.Error(), "got 3") {
		t.Fatalf("three fields: %v", err)
	}
	l, _ = ParseLine(".bilibili.com\tTRUE\t/\tFALSE\tsoon\tSESSDATA\tv")
	if _, err := l.Expires(); err == nil || !strings.Contains(err.Error(), "SESSDATA") {
		t.Fatalf("bad expiry: %v", err)
	}
	if IsLine("SESSDATA=x; bili_jct=y") || !IsLine("a\tb\tc\td\te\tf") {
		t.Fatal("IsLine")
	}
}

func TestHasHeader(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, text string
		want       bool
	}{
		{"written", "", true}, // made by Write below
		{"old", "# HTTP Cookie File\n.bilibili.com\tTRUE\t/\tFALSE\t0\tSESSDATA\tx\n", true},
		{"notes", "my thesis draft\n", false},
		{"empty", "", false},
		{"header later", "\n# Netscape HTTP Cookie File\n", false},
	} {
		p := filepath.Join(dir, c.name)
		var err error
		if c.name == "written" {
			err = Write(p, nil, []*http.Cookie{{Name: "SESSDATA", Value: "x", Domain: ".bilibili.com"}})
		} else {
			err = os.WriteFile(p, []byte(c.text), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, err := HasHeader(p); err != nil || got != c.want {
			t.Errorf("%s: HasHeader = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := HasHeader(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
}

// TestCheckReplace: nothing there or a cookie file may be replaced;
// another file only when any file may be, a directory never.
func TestCheckReplace(t *testing.T) {
	dir := t.TempDir()
	cookies, notes := filepath.Join(dir, "cookies.txt"), filepath.Join(dir, "notes.txt")
	if err := Write(cookies, nil, []*http.Cookie{{Name: "SESSDATA", Value: "x", Domain: ".bilibili.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notes, []byte("my thesis draft\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.txt"), cookies} {
		for _, anyFile := range []bool{false, true} {
			if err := CheckReplace(p, anyFile); err != nil {
				t.Errorf("CheckReplace(%s, %v) = %v, want nil", p, anyFile, err)
			}
		}
	}
	if err := CheckReplace(notes, false); !errors.Is(err, ErrNotCookieFile) || err.Error() != notes+" exists and is not a cookie file" {
		t.Errorf("another file: %v", err)
	}
	if err := CheckReplace(notes, true); err != nil {
		t.Errorf("another file, any file allowed: %v", err)
	}
	for _, anyFile := range []bool{false, true} {
		if err := CheckReplace(dir, anyFile); err == nil || err.Error() != dir+" is a directory" {
			t.Errorf("a directory (any file %v): %v", anyFile, err)
		}
	}
}
