package roomsource_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/roomsource"
)

// Secret-looking values used throughout: no error or formatted value may
// contain any of them.
const (
	secretSess = "5e55da7a%2C1800000000%2Cabcde*b1"
	secretJct  = "0123456789abcdef0123456789abcdef"
)

func writeFile(t *testing.T, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func noSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, v := range append(secrets, secretSess, secretJct) {
		if strings.Contains(s, v) {
			t.Errorf("%s reveals a cookie value: %s", what, s)
		}
	}
}

func TestLoadCookieFileNetscape(t *testing.T) {
	future := time.Now().Add(180 * 24 * time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	text := "# Netscape HTTP Cookie File\r\n" +
		"# https://curl.se/docs/http-cookies.html\r\n\r\n" +
		fmt.Sprintf("#HttpOnly_.bilibili.com\tTRUE\t/\tTRUE\t%d\tSESSDATA\t%s\r\n", future, secretSess) +
		fmt.Sprintf(".bilibili.com\tTRUE\t/\tFALSE\t%d\tbili_jct\t%s\r\n", future, secretJct) +
		".bilibili.com\tTRUE\t/\tFALSE\t0\tDedeUserID\t4242\r\n" +
		"www.bilibili.com\tFALSE\t/\tFALSE\t0\tbuvid3\tOWN-BUVIDinfoc\r\n" +
		fmt.Sprintf(".bilibili.com\tTRUE\t/\tFALSE\t%d\tbuvid4\tstale\r\n", past) +
		".example.com\tTRUE\t/\tFALSE\t0\tSESSDATA\tnot-ours\r\n" +
		".example.com\tTRUE\t/\tFALSE\t0\tother\tx\r\n"
	p := writeFile(t, "cookies.txt", text, 0o600)
	a, err := roomsource.LoadCookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Label != p {
		t.Errorf("Label %q, want the path", a.Label)
	}
	if got := fmt.Sprint(a.CookieNames()); got != "[SESSDATA bili_jct DedeUserID buvid3]" {
		t.Errorf("cookies %s (expired buvid4 and other domains must be skipped)", got)
	}
	// The values reach the wire unchanged.
	f := newFakeBili(t)
	f.sessions[secretSess] = 4242
	c := newClient(t, f.srv.URL, roomsource.Config{Accounts: []*roomsource.Account{a}})
	d, err := c.DanmuInfoAs(t.Context(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "buvid3=OWN-BUVIDinfoc; SESSDATA=" + secretSess + "; bili_jct=" + secretJct + "; DedeUserID=4242"
	if got := f.lastCookie("getDanmuInfo"); got != want {
		t.Errorf("Cookie header\n got %s\nwant %s", got, want)
	}
	if d.Identity != (roomsource.Identity{Account: 0, Mid: 4242, Buvid: "OWN-BUVIDinfoc"}) {
		t.Errorf("identity %+v", d.Identity)
	}
}

func TestLoadCookieFileNameValue(t *testing.T) {
	for name, text := range map[string]string{
		"lines":      "SESSDATA=" + secretSess + "\nbili_jct=" + secretJct + "\n",
		"one line":   "SESSDATA=" + secretSess + "; bili_jct=" + secretJct + ";",
		"header":     "Cookie: buvid3=B; SESSDATA=" + secretSess + "; bili_jct=" + secretJct + "\n",
		"comments":   "# my login\n\n  SESSDATA = " + secretSess + " ;bili_jct=" + secretJct + "\n",
		"bare value": secretSess + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			a, err := roomsource.LoadCookieFile(writeFile(t, "c.txt", text, 0o600))
			if err != nil {
				t.Fatal(err)
			}
			names := fmt.Sprint(a.CookieNames())
			if !strings.Contains(names, "SESSDATA") || (name != "bare value" && !strings.Contains(names, "bili_jct")) {
				t.Errorf("cookies %s", names)
			}
		})
	}
}

func TestLoadCookieFileErrors(t *testing.T) {
	past := time.Now().Add(-time.Hour).Unix()
	for name, tc := range map[string]struct{ text, want string }{
		"empty":           {"", "no SESSDATA"},
		"no SESSDATA":     {"bili_jct=" + secretJct + "\n", "no SESSDATA"},
		"other domain":    {".example.com\tTRUE\t/\tFALSE\t0\tSESSDATA\t" + secretSess + "\n", "no SESSDATA"},
		"expired":         {fmt.Sprintf(".bilibili.com\tTRUE\t/\tFALSE\t%d\tSESSDATA\t%s\n", past, secretSess), "expired"},
		"bad expiry":      {".bilibili.com\tTRUE\t/\tFALSE\tsoon\tSESSDATA\t" + secretSess + "\n", "line 1: cookie SESSDATA: bad expiry"},
		"short line":      {"SESSDATA=" + secretSess + "\n.bilibili.com\tTRUE\t/\tFALSE\t0\tbili_jct\t" + secretJct + "\textra\tmore\n", "line 2: want 7"},
		"no equals":       {"SESSDATA=" + secretSess + "; " + secretJct + "\n", "line 1: want name=value"},
		"value with ctrl": {"SESSDATA=" + secretSess + "\x01\n", "control character"},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "c.txt", tc.text, 0o600)
			_, err := roomsource.LoadCookieFile(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v; want one naming %s and saying %q", err, p, tc.want)
			}
			noSecret(t, "error", err.Error())
		})
	}
	if _, err := roomsource.LoadCookieFile(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

func TestLoadCookieFilePermissions(t *testing.T) {
	text := "SESSDATA=" + secretSess + "\n"
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666} {
		p := writeFile(t, "c.txt", text, mode)
		_, err := roomsource.LoadCookieFile(p)
		if err == nil {
			t.Errorf("mode %v accepted", mode)
			continue
		}
		for _, want := range []string{p, mode.String(), "chmod 600 " + p} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %v: error %q lacks %q", mode, err, want)
			}
		}
		noSecret(t, "error", err.Error())
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if _, err := roomsource.LoadCookieFile(writeFile(t, "c.txt", text, mode)); err != nil {
			t.Errorf("mode %v refused: %v", mode, err)
		}
	}
	if _, err := roomsource.LoadCookieFile(t.TempDir()); err == nil {
		t.Error("a directory was accepted as a cookie file")
	}
}

// No fmt verb, String or GoString shows a cookie value, whether the
// account is printed alone, in a slice or inside a Config or Client.
func TestAccountNeverRevealsValues(t *testing.T) {
	a, err := roomsource.NewAccount("login 1", []*http.Cookie{
		{Name: "SESSDATA", Value: secretSess}, {Name: "bili_jct", Value: secretJct, Domain: ".bilibili.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := roomsource.Config{Accounts: []*roomsource.Account{a}}
	c, err := roomsource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	legacy := roomsource.Config{SESSDATA: secretSess}
	for _, v := range []any{a, *a, []*roomsource.Account{a}, cfg, &cfg, legacy, c,
		struct{ A *roomsource.Account }{a}, map[string]*roomsource.Account{"x": a}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			noSecret(t, fmt.Sprintf("%s of %T", verb, v), fmt.Sprintf(verb, v))
		}
	}
	noSecret(t, "String", a.String())
	noSecret(t, "GoString", a.GoString())
	if s := fmt.Sprintf("%+v", a); !strings.Contains(s, "login 1") || !strings.Contains(s, "SESSDATA") {
		t.Errorf("%%+v should still name the label and cookie names: %s", s)
	}
}

func TestNewAccount(t *testing.T) {
	a, err := roomsource.NewAccount("login 2", []*http.Cookie{
		{Name: "SESSDATA", Value: secretSess, Domain: ".bilibili.com"},
		{Name: "bili_jct", Value: "", Domain: ".bilibili.com"},   // empty
		{Name: "sid", Value: "x", MaxAge: -1},                    // deleting
		{Name: "DedeUserID", Value: "7", Domain: "evil.example"}, // other domain
	})
	if err != nil || fmt.Sprint(a.CookieNames()) != "[SESSDATA]" {
		t.Fatalf("NewAccount: %v %v", a, err)
	}
	if _, err := roomsource.NewAccount("login 3", []*http.Cookie{{Name: "bili_jct", Value: secretJct}}); err == nil {
		t.Error("an account without SESSDATA was made")
	}
}

func TestWriteCookieFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg", "danmakud")
	p := filepath.Join(dir, "cookies.txt")
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	cookies := []*http.Cookie{
		{Name: "SESSDATA", Value: secretSess, Domain: ".bilibili.com", Path: "/", Expires: exp, HttpOnly: true, Secure: true},
		{Name: "bili_jct", Value: secretJct, Domain: ".bilibili.com", Path: "/", MaxAge: 3600},
		{Name: "DedeUserID", Value: "4242"}, // no domain: .bilibili.com
		{Name: "gone", Value: "x", MaxAge: -1},
	}
	if err := roomsource.WriteCookieFile(p, cookies); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, p: 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	b, _ := os.ReadFile(p)
	text := string(b)
	if !strings.HasPrefix(text, "# Netscape HTTP Cookie File\n") ||
		!strings.Contains(text, fmt.Sprintf("#HttpOnly_.bilibili.com\tTRUE\t/\tTRUE\t%d\tSESSDATA\t%s\n", exp.Unix(), secretSess)) ||
		!strings.Contains(text, ".bilibili.com\tTRUE\t/\tFALSE\t0\tDedeUserID\t4242\n") || strings.Contains(text, "gone") {
		t.Errorf("file:\n%s", text)
	}
	a, err := roomsource.LoadCookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(a.CookieNames()); got != "[SESSDATA bili_jct DedeUserID]" {
		t.Errorf("read back %s", got)
	}
	// Overwriting a loose file leaves a 0600 one and no temporary files;
	// a set without SESSDATA is refused and the good file stays.
	os.Chmod(p, 0o644)
	if err := roomsource.WriteCookieFile(p, cookies[:1]); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file mode %v", fi.Mode().Perm())
	}
	if err := roomsource.WriteCookieFile(p, cookies[1:]); err == nil || !strings.Contains(err.Error(), "no SESSDATA") {
		t.Errorf("a set without SESSDATA: %v", err)
	}
	if err := roomsource.WriteCookieFile(p, []*http.Cookie{{Name: "SESSDATA", Value: "a\tb"}}); err == nil {
		t.Error("a value with a tab was written")
	} else {
		noSecret(t, "error", err.Error(), "a\tb")
	}
	if _, err := roomsource.LoadCookieFile(p); err != nil {
		t.Errorf("the good file was damaged: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only cookies.txt", len(ents))
	}
}

func TestDefaultCookiePath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/etc/xdg-test")
	if got := roomsource.DefaultCookiePath(); got != "/etc/xdg-test/danmakud/cookies.txt" {
		t.Errorf("with XDG_CONFIG_HOME: %s", got)
	}
	t.Setenv("HOME", "/home/tester")
	for _, x := range []string{"", "relative/dir"} {
		t.Setenv("XDG_CONFIG_HOME", x)
		if got := roomsource.DefaultCookiePath(); got != "/home/tester/.config/danmakud/cookies.txt" {
			t.Errorf("XDG_CONFIG_HOME=%q: %s", x, got)
		}
	}
}
